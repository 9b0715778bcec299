"""A request is cleaned once: the query text, k, mode, ids and filters as every caller may send them."""

import pytest

from imagesearch.errors import QueryError
from imagesearch.serve.request import MAX_K, clamp_k, clean_id, clean_mode, clean_names, clean_query


def test_long_query_is_capped_and_control_characters_removed():
    assert clean_query("a\x00b\u200fc  \n d" + "z" * 2000, max_chars=20) == "a b c d" + "z" * 13
    assert len(clean_query("word " * 1000)) <= 512


@pytest.mark.parametrize("k, expected", [(1, 1), (MAX_K, MAX_K), (7.0, 7), ("3", 3), (" 12 ", 12), (None, 5)])
def test_k_is_a_whole_number_from_1_to_20(k, expected):
    assert clamp_k(k) == expected


@pytest.mark.parametrize("k, shown", [(0, "0"), (-3, "-3"), (21, "21"), (10**9, "1000000000"), (2.5, "2.5"),
                                      ("2.5", "2.5"), ("many", "'many'")])
def test_k_out_of_range_or_not_whole_is_refused_in_one_line_naming_it(k, shown):
    with pytest.raises(QueryError) as refused:
        clamp_k(k)
    assert str(refused.value) == f"k must be a whole number of results from 1 to {MAX_K}, got {shown}."


@pytest.mark.parametrize("k", [float("nan"), float("inf"), True, [3]])
def test_k_that_is_not_a_number_is_refused(k):
    with pytest.raises(QueryError, match="k must be"):
        clamp_k(k)


@pytest.mark.parametrize("mode, expected", [(None, "hybrid"), ("", "hybrid"), (" Dense ", "dense"), ("LEXICAL", "lexical")])
def test_mode_defaults_to_hybrid_and_ignores_case_and_space(mode, expected):
    assert clean_mode(mode) == expected


@pytest.mark.parametrize("mode", ["fuzzy", 3, ["dense"]])
def test_an_unknown_mode_is_refused_naming_the_choices(mode):
    with pytest.raises(QueryError, match="mode must be one of hybrid, dense, lexical"):
        clean_mode(mode)


@pytest.mark.parametrize("value, expected", [(17, 17), ("17", 17), (" 17 ", 17), (17.0, 17), ("-3", -3)])
def test_an_id_may_come_as_a_number_or_its_text(value, expected):
    assert clean_id(value) == expected


@pytest.mark.parametrize("value", [True, 1.5, "x17", "9" * 30, None, [17]])
def test_anything_else_is_not_an_id(value):
    with pytest.raises(QueryError, match="id must be the integer `id` of a search result"):
        clean_id(value)


def test_filters_take_one_name_or_many_keep_their_order_once_and_refuse_unknown_names():
    known = ("pets", "planes", "snacks")
    assert clean_names(None, "dataset", known) == () == clean_names("  ", "dataset", known)
    assert clean_names("pets", "dataset", known) == ("pets",)
    assert clean_names(["snacks", "pets", "snacks"], "dataset", known) == ("snacks", "pets")
    with pytest.raises(QueryError, match="Unknown dataset 'cars'; choose from: pets, planes, snacks."):
        clean_names(["pets", "cars"], "dataset", known)
    with pytest.raises(QueryError, match="datasets must be a list of dataset names"):
        clean_names(5, "dataset", known)
    with pytest.raises(QueryError, match="this set has no labels"):
        clean_names(["beagle"], "label", ())

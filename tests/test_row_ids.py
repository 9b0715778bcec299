"""Stable row ids: an item keeps its id, removed ids are never reused, new items follow in the order given."""

from build.row_ids import assign_ids, previous_ids
from imagesearch.store.records import Record, write_records


def test_a_first_build_numbers_items_in_order_from_next_id():
    order, ids, next_id = assign_ids([("d", "a"), ("d", "b")], {}, 0)
    assert order == [0, 1] and ids == [0, 1] and next_id == 2


def test_kept_items_keep_their_ids_and_new_ones_get_ids_never_given_before():
    previous = {("d", "a"): 0, ("d", "b"): 1, ("d", "c"): 2}
    items = [("d", "new"), ("d", "c"), ("d", "a")]  # b was removed; a new item comes first in source order
    order, ids, next_id = assign_ids(items, previous, next_id=5)  # ids 3 and 4 were given once and retired
    assert [items[i] for i in order] == [("d", "a"), ("d", "c"), ("d", "new")]
    assert ids == [0, 2, 5] and next_id == 6  # 1, 3 and 4 are never given again


def test_a_next_id_below_the_largest_previous_id_is_raised_past_it():
    _, ids, next_id = assign_ids([("d", "x")], {("d", "a"): 9}, next_id=0)
    assert ids == [10] and next_id == 11


def test_previous_ids_come_from_an_existing_csv_and_an_unreadable_one_counts_as_none(tmp_path):
    assert previous_ids(tmp_path / "description.csv") == {}
    write_records(tmp_path / "description.csv", [Record(7, "d", "a", "", "images/a.jpg", "x")])
    assert previous_ids(tmp_path / "description.csv") == {("d", "a"): 7}
    (tmp_path / "description.csv").write_text("not,a,valid,header\n")
    assert previous_ids(tmp_path / "description.csv") == {}

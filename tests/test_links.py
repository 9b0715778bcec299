"""Deep links: the page runs what its address asks, and every search writes its own link from the request as cleaned."""

from imagesearch.serve.links import page_base, read_link, request_link, search_link
from imagesearch.serve.request import Request


def test_a_link_carries_the_whole_search():
    assert search_link("a cat") == "?q=a+cat"
    assert search_link("a cat", 8, "dense", ["pets", "snacks"], ["beagle"]) == \
        "?q=a+cat&k=8&mode=dense&dataset=pets&dataset=snacks&label=beagle"
    assert search_link(k=8, like=17) == "?like=17&k=8"


def test_the_link_of_an_answer_is_built_from_the_request_as_cleaned():
    cleaned = Request(k=20, mode="dense", datasets=("pets",), text="a cat")  # what "  a\tcat ", k=500 became
    assert request_link(cleaned) == "?q=a+cat&k=20&mode=dense&dataset=pets"
    assert request_link(Request(k=5, like=3)) == "?like=3"


class Params(dict):
    """The query parameters of a page address, as Starlette gives them (a name may repeat)."""

    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = pairs

    def getlist(self, name):
        return [value for key, value in self.pairs if key == name]


def test_an_address_is_read_into_the_search_it_asks_for_and_the_form_it_shows():
    asks = read_link(Params([("q", "a cat"), ("k", "500"), ("mode", "dense"), ("dataset", "pets"),
                             ("dataset", "nope"), ("label", "beagle")]), ("pets", "snacks"), ("beagle",),
                     ("hybrid", "dense", "lexical"), "hybrid")
    assert (asks.query, asks.shown_k, asks.mode, asks.shown_mode) == ("a cat", 5, "dense", "dense")  # k 500: refused
    assert asks.k == "500"  # left for the search to refuse in one line
    assert asks.datasets == ["pets"] and asks.labels == ["beagle"] and asks.anything and asks.like is None


def test_a_mode_the_set_lacks_is_shown_as_its_default_and_left_for_the_search_to_refuse():
    asks = read_link(Params([("q", "a cat"), ("mode", "lexical"), ("k", "lots")]), (), (), ("dense",), "dense")
    assert asks.mode == "lexical" and asks.shown_mode == "dense" and asks.shown_k == 5


def test_an_address_that_asks_nothing_leaves_the_page_alone_and_more_like_this_is_its_own_ask():
    assert not read_link(Params([("q", "  ")]), (), (), ("hybrid",), "hybrid").anything
    assert read_link(Params([("like", "17")]), (), (), ("hybrid",), "hybrid").like == "17"


def test_the_page_base_comes_only_from_a_web_referer():
    assert page_base("https://alice-space.hf.space/?q=x#top") == "https://alice-space.hf.space/"
    assert page_base("javascript:alert(1)") == "" and page_base("") == ""


def test_minus_words_phrases_and_the_offset_travel_in_a_link_and_come_back_whole():
    from urllib.parse import parse_qsl

    request = Request(k=5, text='"red dress" -dots', offset=10)
    link = request_link(request)
    assert link == "?q=%22red+dress%22+-dots&offset=10"
    asks = read_link(Params(parse_qsl(link[1:])), (), (), ("hybrid", "dense", "lexical"), "hybrid")
    assert (asks.query, asks.offset) == ('"red dress" -dots', "10")
    assert request_link(Request(k=5, like=3, offset=5)) == "?like=3&offset=5"

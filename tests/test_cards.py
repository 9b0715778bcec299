"""Result cards: every text escaped, alternative text on every image, match bands in words, matched words marked."""



from imagesearch.serve.bands import Bands
from imagesearch.serve.cards import alt_text, cards_html, marked_html
from imagesearch.serve.search import SearchResult, mark_matches


def _result(score, description="a cat", image="/x/images/0.jpg", query="cat", dense=None, band=None):
    pieces, matched = mark_matches(query, description, "")
    return SearchResult(1, 0, score, "d", "s", "", description, image, dense_score=score if dense is None else dense,
                        matched=matched, band=band, pieces=pieces)


def test_bands_come_from_the_sets_measured_cuts_and_are_written_out():
    bands = Bands.from_manifest({"strong": 0.6, "weak": 0.35, "similar": {"strong": 0.8, "weak": 0.7}})
    assert [bands.band(s) for s in (0.9, 0.6, 0.5, 0.34)] == ["strong", "strong", "fair", "weak"]
    assert [bands.band(s, similar=True) for s in (0.9, 0.75, 0.6)] == ["strong", "fair", "weak"]
    assert Bands.from_manifest(None).band(0.9) is None and Bands.from_manifest({"strong": 0.6}).band(0.9) is None
    html = cards_html([_result(0.9, band="strong"), _result(0.2, band="weak"), _result(0.5)], 5)
    assert html.count("strong match") == 1 and html.count("weak match") == 1  # words, not only colour
    assert "meaning" not in html  # the score shown is the cosine the band is cut on


def test_a_band_names_the_cosine_it_is_cut_on_when_the_card_shows_another_score():
    html = cards_html([_result(0.52, dense=0.607, band="strong")], 5)
    assert "strong match <span class=\"cs-meaning\">(meaning 0.607)</span>" in html and "0.520" in html


def test_cards_escape_every_text_and_give_each_image_alternative_text():
    hostile = '<img src=x onerror="alert(1)"> a "quoted" cat ' + "word " * 60
    html = cards_html([_result(0.5, hostile, '/x/images/a"b.jpg')], 5)
    assert "<img src=x" not in html and "&lt;img src=x" in html and 'a&quot;b.jpg' in html
    assert "<mark>cat</mark>" in html
    alt = alt_text(hostile)
    assert len(alt) <= 161 and alt.endswith("…") and f'alt="{alt.replace(chr(34), "&quot;").replace("<", "&lt;").replace(">", "&gt;")}"' in html


def test_matched_words_and_their_marking_are_literal_text():
    assert mark_matches("Beagles on a sofa", "A small Beagle sits on the sofa; the beagle naps", "")[1] == ["Beagle", "sofa"]
    assert mark_matches("a beagle dog", "A dog on a sofa", "beagle, dog")[1] == ["dog", "beagle"]  # the label counts
    description = 'a <b>red</b> dress *with* golden_retriever dots'
    pieces, matched = mark_matches("red dresses retriever", description, "")
    shown = marked_html(SearchResult(1, 0, 0.5, "d", "s", "", description, "x.jpg", matched=matched, pieces=pieces))
    assert "<mark>red</mark>" in shown and "<mark>dress</mark>" in shown and "<mark>retriever</mark>" in shown
    assert "<b>" not in shown and "&lt;b&gt;" in shown and "*with*" in shown


def test_a_result_whose_image_cannot_be_shown_gets_a_labelled_empty_frame_and_a_null_api_image():
    from imagesearch.serve.api import api_results
    from imagesearch.serve.request import Request
    from imagesearch.serve.results import Answer

    shown, missing = _result(0.9, "a cat"), _result(0.8, "a <b>dog</b>", image=None)
    html = cards_html([shown, missing], 5)
    assert html.count("<img ") == 1 and 'role="img" aria-label="a &lt;b&gt;dog&lt;/b&gt;">image unavailable' in html
    answer = Answer(Request(k=5, text="cat"), [shown, missing])
    assert [r["image"] and r["image"]["path"] for r in api_results(answer)] == ["/x/images/0.jpg", None]

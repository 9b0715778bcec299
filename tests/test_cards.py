"""Result cards: every text escaped, alternative text on every image, match bands in words, matched words marked."""



from imagesearch.serve.cards import alt_text, band, cards_html, marked_html
from imagesearch.serve.search import SearchResult, mark_matches


def _result(score, description="a cat", image="/x/images/0.jpg", query="cat"):
    pieces, matched = mark_matches(query, description, "")
    return SearchResult(1, 0, score, "d", "s", "", description, image, dense_score=score, matched=matched,
                        pieces=pieces)


def test_bands_come_from_the_sets_measured_cuts_and_are_written_out():
    bands = {"strong": 0.6, "weak": 0.35}
    assert [band(_result(s), bands) for s in (0.9, 0.6, 0.5, 0.34)] == ["strong", "strong", "fair", "weak"]
    assert band(_result(0.9), None) is None
    html = cards_html([_result(0.9), _result(0.2)], bands, 5)
    assert html.count("strong match") == 1 and html.count("weak match") == 1  # words, not only colour


def test_cards_escape_every_text_and_give_each_image_alternative_text():
    hostile = '<img src=x onerror="alert(1)"> a "quoted" cat ' + "word " * 60
    html = cards_html([_result(0.5, hostile, '/x/images/a"b.jpg')], None, 5)
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

from build.indexing.query_texts import phrase_from, query_like_texts
from imagesearch.store.records import Record

DESCRIPTIONS = [
    "The image features a woman in a navy coat walking down a runway. Several people watch her from the side.",
    "A small brown dog sits on a green sofa next to a striped cushion. The room is bright.",
    "Two football players in white helmets run across the field. A referee stands behind them.",
]


def _records(labels=("", "", "")):
    return [Record(i, "d", str(i), label, f"images/{i}.jpg", text) for i, (label, text) in enumerate(zip(labels, DESCRIPTIONS))]


def test_phrases_are_short_runs_of_words_from_one_sentence():
    texts = query_like_texts(_records(), count=20, seed=1)
    assert len(texts) == len(set(texts)) and len(texts) >= 10
    sentences = [s.strip(" .").lower() for d in DESCRIPTIONS for s in d.split(". ")]
    for text in texts:
        assert 4 <= len(text.split()) <= 8
        assert any(text in sentence for sentence in sentences), text


def test_labels_become_photo_queries_and_the_draw_is_repeatable():
    records = _records(("model", "beagle", "referee"))
    texts = query_like_texts(records, count=12, seed=4)
    assert [t for t in texts if t.startswith("a photo of a ")] == [t for t in texts[:3]]
    assert {t for t in texts[:3]} <= {"a photo of a model", "a photo of a beagle", "a photo of a referee"}
    assert query_like_texts(records, count=12, seed=4) == texts


def test_a_description_without_a_four_word_sentence_gives_no_phrase():
    import random

    assert phrase_from("A cat. Sleeping.", random.Random(0)) is None

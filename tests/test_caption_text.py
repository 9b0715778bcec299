import pytest

from imagesearch.models.caption_text import clean_caption, join_answers
from imagesearch.store.records import read_seed_csv


def test_every_seed_description_starts_like_a_sentence_after_cleaning(seed_csv):
    rows = read_seed_csv(seed_csv)
    echoes = sum(text[:1] in ".," for _, text in rows)
    assert echoes == 147  # 132 ". The image ..." and 15 ", including ..."
    for _, text in rows:
        cleaned = clean_caption(text)
        assert cleaned[:1].isupper(), cleaned[:60]
        assert cleaned.startswith(("The ", "In ", "This ", "A ", "An ")), cleaned[:60]
        assert len(cleaned) > 0.7 * len(text)


@pytest.mark.parametrize(
    "raw, prompt, expected",
    [
        (". The image features a cat.", "", "The image features a cat."),
        (", including the people, objects, and the overall scene. The image shows a dog.", "", "The image shows a dog."),
        ("create an extensive description of this image a red car", "create an extensive description of this image", "A red car"),
        ("  a man in a suit\n and bow tie  ", "", "A man in a suit and bow tie"),
        (", and nothing else", "", ""),
        ("", "", ""),
    ],
)
def test_clean_caption(raw, prompt, expected):
    assert clean_caption(raw, prompt) == expected


def test_answers_are_joined_with_one_space():
    assert join_answers(["The image shows a cat.", "", "A cat on a mat"]) == "The image shows a cat. A cat on a mat"

"""Clean what InstructBLIP returns so each description reads as a description.

Vicuna often continues the instruction instead of answering it: the seed's
outputs begin ". The image features ..." (the prompt's missing full stop) or
", including the people, objects, and the overall scene. The image ..."
(a continuation clause of "Describe each and every aspect of the image").
"""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_LEADING_PUNCT = re.compile(r"^[\s.,;:!?\-–—)\]]+")
_SENTENCE_END = re.compile(r"[.!?](\s|$)")


def says_something(text: str) -> bool:
    """Whether a caption holds at least one letter or digit (an empty, blank or punctuation-only one says nothing)."""
    return any(character.isalnum() for character in text)


def clean_caption(text: str, prompt: str = "") -> str:
    """Return ``text`` without echoed prompt or continuation, starting like a sentence."""
    text = _SPACE.sub(" ", text).strip()
    if prompt:
        lowered, echo = text.lower(), _SPACE.sub(" ", prompt).strip().lower()
        if echo and lowered.startswith(echo):
            text = text[len(echo):]
    stripped = text.lstrip()
    if stripped[:1] in (",", ";", ":"):
        # a clause continuing the instruction: drop it up to the end of its sentence
        end = _SENTENCE_END.search(stripped)
        text = stripped[end.end():] if end else ""
    text = _LEADING_PUNCT.sub("", text).strip()
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    return text


def join_answers(answers: list[str]) -> str:
    """Join the per-prompt answers with one space, skipping empty ones."""
    return " ".join(answer for answer in answers if answer)


NO_TEXT = {"", "none", "no", "nothing", "no text", "there is no text", "n/a"}


def with_text(description: str, words: str) -> str:
    """The description followed by the words read in the image, unless the reader found none."""
    words = " ".join(words.split()).strip(" .")
    if words.lower() in NO_TEXT:
        return description
    return f"{description} Text in the image: {words}.".strip()

"""The page's own small rules, without a browser: echoed text cannot form markup, and paging moves by k."""

from __future__ import annotations

import pytest

from imagesearch.serve.page import markdown_text, page_offset
from imagesearch.serve.request import Request


@pytest.mark.parametrize("text, shown", [
    ("<img src=x onerror=alert(1)>", "&lt;img src\\=x onerror\\=alert\\(1\\)&gt;"),
    ("cats & dogs", "cats &amp; dogs"),
    ("[Login](//evil.co)", "\\[Login\\]\\(\\/\\/evil\\.co\\)"),
    ("*bold*  and_more", "\\*bold\\* and\\_more"),
])
def test_echoed_text_becomes_entities_and_escapes_never_markup(text, shown):
    assert markdown_text(text) == shown
    assert "<" not in markdown_text(text) and ">" not in markdown_text(text)


@pytest.mark.parametrize("offset, k, step, expected", [(0, 5, 1, 5), (5, 5, 1, 10), (10, 5, -1, 5), (3, 5, -1, 0),
                                                       (0, 20, 1, 20), (17, 3, 1, 20)])
def test_more_results_starts_right_after_the_page_shown_and_previous_right_before(offset, k, step, expected):
    assert page_offset(Request(k, offset=offset, text="q"), step) == expected

"""Result cards: each result as escaped HTML (image with alternative text, rank, score, match band, dataset,
label, the whole description with the query's words marked, a "More like this" link), and their CSS."""

from __future__ import annotations

import html

from imagesearch.serve.links import search_link
from imagesearch.serve.search import SearchResult

SCORE_FORMAT = "{:.3f}"  # one precision for every score shown
ALT_CHARS = 160


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def marked_html(result: SearchResult) -> str:
    """The description as HTML text, the words the query matched (decided by the search) in <mark>."""
    pieces = result.pieces or ((result.description, False),)
    return "".join(f"<mark>{_text(piece)}</mark>" if matched else _text(piece) for piece, matched in pieces)


def band_html(result: SearchResult) -> str:
    """The band in words, naming the score it is cut on (the cosine, "meaning") where the card's score is another."""
    if result.band is None:
        return ""
    meaning = ""
    if result.dense_score is not None and abs(result.dense_score - result.score) > 5e-5:
        meaning = f' <span class="cs-meaning">(meaning {SCORE_FORMAT.format(result.dense_score)})</span>'
    return f'<span class="cs-band">{result.band} match{meaning}</span>'


def alt_text(description: str) -> str:
    if len(description) <= ALT_CHARS:
        return description
    return description[:ALT_CHARS].rsplit(" ", 1)[0] + "…"


def picture(result: SearchResult) -> str:
    """The result's image, or a frame saying it cannot be shown (never another image)."""
    if not result.image:
        return f'<div class="cs-noimage" role="img" aria-label="{_text(alt_text(result.description))}">image unavailable</div>'
    return f'<img src="gradio_api/file={_text(result.image)}" alt="{_text(alt_text(result.description))}" loading="lazy">'


def cards_html(results: list[SearchResult], k: int) -> str:
    if not results:
        return ""
    items = []
    for r in results:
        strength, badge = r.band, band_html(r)
        label = f' · <span class="cs-label">{_text(r.label)}</span>' if r.label else ""
        items.append(
            f'<li class="cs-card cs-{strength or "unbanded"}" data-id="{r.id}">'
            f'{picture(r)}'
            f'<div class="cs-meta"><span class="cs-rank">#{r.rank}</span> '
            f'<span class="cs-score">{SCORE_FORMAT.format(r.score)}</span> {badge}'
            f'<span class="cs-where">{_text(r.dataset)}{label}</span></div>'
            f'<p class="cs-description">{marked_html(r)}</p>'
            f'<a class="cs-more" href="{_text(search_link(k=k, like=r.id))}">More like this'
            f'<span class="cs-hidden"> #{r.rank}</span></a></li>'
        )
    return f'<ol class="cs-results" aria-label="Results">{"".join(items)}</ol>'


CSS = """
#results .cs-results { list-style: none; margin: 0; padding: 0; display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); }
#results .cs-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px; min-width: 0;
  display: flex; flex-direction: column; gap: 6px; background: var(--block-background-fill); }
#results .cs-card img { width: 100%; aspect-ratio: 4 / 3; object-fit: contain; background: var(--background-fill-secondary);
  border-radius: 4px; }
#results .cs-noimage { width: 100%; aspect-ratio: 4 / 3; display: flex; align-items: center; justify-content: center;
  background: var(--background-fill-secondary); border-radius: 4px; font-size: 0.85em; opacity: 0.8; }
#results .cs-meta { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: baseline; font-size: 0.9em; }
#results .cs-rank { font-weight: 700; }
#results .cs-score { font-variant-numeric: tabular-nums; }
#results .cs-band { font-size: 0.8em; padding: 0 6px; border-radius: 10px; border: 1px solid currentColor; }
#results .cs-strong .cs-band { font-weight: 700; }
#results .cs-strong { border-width: 2px; border-color: var(--color-accent); }
#results .cs-weak { opacity: 0.72; border-style: dashed; }
#results .cs-weak .cs-band { font-style: italic; }
#results .cs-description { margin: 0; overflow-wrap: anywhere; line-height: 1.35; }
#results mark { background: var(--color-accent-soft); color: inherit; font-weight: 700; padding: 0 1px; }
#results .cs-more { margin-top: auto; }
#results .cs-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
#query-row { flex-wrap: wrap; }
#query-row > * { min-width: min(100%, 260px); }
"""


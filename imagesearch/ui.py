"""The Gradio Blocks: a search box, a gallery with scores and descriptions, and /search.

The UI event and the API endpoint both call :class:`SearchEngine`, which
validates its inputs, so API callers get the same checks as the browser.
"""

from __future__ import annotations

import math
import time
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from .errors import QueryError
from .search import DEFAULT_K, MAX_K, MIN_K, SearchEngine, SearchResult

DEFAULT_EXAMPLES = (
    "a red dress with white dots",
    "a pikachu on grass",
    "a dog sleeping on a sofa",
    "an airplane on a runway",
    "football players in helmets",
)
GALLERY_COLUMNS = 5
TABLE_HEADERS = ["#", "score", "dataset", "source", "label", "description"]


def _caption(result: SearchResult) -> str:
    return f"#{result.rank} · {result.score:.3f} · {result.dataset}: {result.description}"


def _gallery_height(count: int, columns: int = GALLERY_COLUMNS) -> int:
    rows = max(1, math.ceil(count / columns))
    return 40 + 220 * rows


def _about(engine: SearchEngine) -> str:
    manifest = engine.artifacts.manifest
    captioner = manifest.get("captioner", {}).get("model", "unspecified")
    how = "hand-written descriptions" if captioner == "hand-written" else f"descriptions written by {captioner}"
    index = manifest["index"]
    exact = "exact search" if index.get("exact") else f"approximate search (recall@5 {index.get('recall_at_5')})"
    return (
        f"Describe the image you want. Searching **{engine.artifacts.count:,} images** from "
        f"{len(engine.datasets)} datasets through {how}, embedded with `{manifest['embedding']['model']}` "
        f"({exact}). Each result shows its cosine similarity score and the description that matched."
    )


def build_blocks(engine: SearchEngine, title: str = "Text-to-image search") -> gr.Blocks:
    def ui_search(query: str, k: float, datasets: list[str]) -> tuple[Any, list, str]:
        started = time.perf_counter()
        try:
            results = engine.search(query, k, datasets or None)
        except QueryError as exc:
            return gr.update(value=[], height=_gallery_height(0)), [], f"⚠️ {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        gallery = [(r.image, _caption(r)) for r in results]
        table = [[r.rank, r.score, r.dataset, r.source, r.label, r.description] for r in results]
        status = f"{len(results)} result{'s' if len(results) != 1 else ''} in {elapsed:.0f} ms"
        if not results:
            status = "No image matches that filter."
        return gr.update(value=gallery, height=_gallery_height(len(results))), table, status

    def search(query: str, k: int = DEFAULT_K, datasets: list[str] | None = None) -> list[dict[str, Any]]:
        """Top-k images for a text query.

        Args:
            query: what the image shows, in plain words (at most 512 characters are used).
            k: number of results, clamped to 1..20.
            datasets: only search these datasets (names as shown in the UI); empty or None searches all.

        Returns:
            Results best first, each with rank, id, score (cosine similarity), dataset, source,
            label, description and image (downloaded by gradio_client to a local path).
        """
        try:
            results = engine.search(query, k, datasets)
        except QueryError as exc:
            raise gr.Error(str(exc)) from None
        return [dict(r.as_dict(), image=FileData(path=r.image).model_dump()) for r in results]

    examples = engine.artifacts.manifest.get("examples") or list(DEFAULT_EXAMPLES)
    with gr.Blocks(title=title) as blocks:
        gr.Markdown(f"# {title}")
        gr.Markdown(_about(engine))
        with gr.Row():
            query = gr.Textbox(label="Query", placeholder="e.g. " + examples[0], max_lines=1, scale=5,
                               max_length=engine.max_query_chars, autofocus=True, elem_id="query")
            button = gr.Button("Search", variant="primary", scale=1, elem_id="search-button")
        with gr.Row():
            k = gr.Slider(MIN_K, MAX_K, value=DEFAULT_K, step=1, label="Results", scale=1)
            datasets = gr.CheckboxGroup(list(engine.datasets), value=[], label="Only these datasets (none ticked: all)", scale=3)
        status = gr.Markdown(elem_id="status")
        gallery = gr.Gallery(label="Results", columns=GALLERY_COLUMNS, height=_gallery_height(0), object_fit="contain",
                             elem_id="results")
        table = gr.Dataframe(headers=TABLE_HEADERS, datatype=["number", "number", "str", "str", "str", "str"],
                             interactive=False, wrap=True, label="Why each image matched", elem_id="details",
                             column_widths=["5%", "8%", "12%", "13%", "9%", "53%"])
        gr.Examples([[e] for e in examples], inputs=[query], label="Try")
        gr.on([query.submit, button.click], ui_search, [query, k, datasets], [gallery, table, status], api_name=False)
        gr.api(search, api_name="search")
    return blocks

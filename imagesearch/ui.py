"""The Gradio Blocks: search by words or by image, "more like this", and the public API.

The UI events and the API endpoints all call :class:`SearchEngine`, which
validates its inputs, so API callers get the same checks as the browser.
Public endpoints: /search (text), /similar (more like a result), /search_by_image.
"""

from __future__ import annotations

import html
import math
import re
import time
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from gradio.data_classes import FileData

from .errors import QueryError
from .image_query import ImageDescriber, public_name
from .lexical import term, terms
from .search import DEFAULT_K, DEFAULT_MODE, MAX_K, MIN_K, SearchEngine, SearchResult

DEFAULT_EXAMPLES = (
    "a red dress with white dots",
    "a pikachu on grass",
    "a dog sleeping on a sofa",
    "an airplane on a runway",
    "football players in helmets",
)
GALLERY_COLUMNS = 5
TABLE_HEADERS = ["#", "score", "dataset", "source", "label", "description"]
MODE_CHOICES = [("words and meaning (hybrid)", "hybrid"), ("meaning only (dense)", "dense"),
                ("exact words only (lexical)", "lexical")]
_WORD = re.compile(r"\w+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _caption(result: SearchResult) -> str:
    return f"#{result.rank} · {result.score:.3f} · {result.dataset}: {result.description}"


def _gallery_height(count: int, columns: int = GALLERY_COLUMNS) -> int:
    rows = max(1, math.ceil(count / columns))
    return 40 + 220 * rows


def _plain(text: str) -> str:
    """Text shown literally inside Markdown: HTML escaped, Markdown punctuation backslashed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def marked(description: str, query: str | None) -> str:
    """The description as Markdown with the words that share a term with the query in bold."""
    wanted = set(terms(query)) if query else set()
    out, last = [], 0
    for match in _WORD.finditer(description):
        out.append(_plain(description[last:match.start()]))
        word = match.group(0)
        out.append(f"**{_plain(word)}**" if wanted and term(word) in wanted else _plain(word))
        last = match.end()
    out.append(_plain(description[last:]))
    return "".join(out)


def _about(engine: SearchEngine) -> str:
    manifest = engine.artifacts.manifest
    captioner = manifest.get("captioner", {}).get("model", "unspecified")
    how = "hand-written descriptions" if captioner == "hand-written" else f"descriptions written by {public_name(captioner)}"
    index = manifest["index"]
    exact = "exact search" if index.get("exact") else f"approximate search (recall@5 {index.get('recall_at_5')})"
    words = (" Words of a description that match the query are in bold; label names count too."
             if engine.artifacts.lexical is not None else "")
    count = len(engine.datasets)
    return (
        f"Describe the image you want, or upload one. Searching **{engine.artifacts.count:,} images** from "
        f"{count} dataset{'s' if count != 1 else ''} through {how}, embedded with "
        f"`{public_name(manifest['embedding']['model'])}` ({exact}). Each result shows its score and the description "
        f"that matched.{words} Click a result for more like it."
    )


def _api_results(results: list[SearchResult]) -> list[dict[str, Any]]:
    return [dict(r.as_dict(), image=FileData(path=r.image).model_dump()) for r in results]


def _upload_path(image: Any) -> str:
    """The server path of an uploaded file, only if it lies in Gradio's upload folder (never any other file)."""
    from gradio.utils import get_upload_folder

    path = image.get("path") if isinstance(image, dict) else image
    if not isinstance(path, str) or not path:
        raise QueryError("Upload an image (JPEG, PNG, WebP, GIF, ...).")
    resolved = Path(path).resolve()
    if Path(get_upload_folder()).resolve() not in resolved.parents:
        raise QueryError("The image must be uploaded with the request (gradio_client: handle_file(path)).")
    return str(resolved)


class SearchBlocks(gr.Blocks):
    """Blocks whose API endpoints accept calls that leave out trailing parameters, as gradio_client calls do.

    /search had three parameters before ``mode`` and ``labels`` were appended; a plain HTTP caller that
    still sends three values gets the defaults for the rest instead of "didn't receive enough input values".
    """

    def validate_inputs(self, block_fn, inputs: list[Any]):
        from gradio.components.api_component import Api

        missing = block_fn.inputs[len(inputs):]
        if missing and isinstance(inputs, list) and all(isinstance(block, Api) for block in missing):
            inputs.extend(block.value for block in missing)
        super().validate_inputs(block_fn, inputs)


def build_blocks(engine: SearchEngine, describe_image: Callable[[str], str] | None = None,
                 describer: ImageDescriber | None = None, title: str = "Text-to-image search") -> gr.Blocks:
    has_lexical = engine.artifacts.lexical is not None

    def shown(results: list[SearchResult], query: str | None, started: float, what: str) -> tuple:
        elapsed = (time.perf_counter() - started) * 1000
        gallery = [(r.image, _caption(r)) for r in results]
        table = [[r.rank, r.score, r.dataset, r.source, r.label, marked(r.description, query)] for r in results]
        status = f"{len(results)} result{'s' if len(results) != 1 else ''}{what} in {elapsed:.0f} ms"
        if not results:
            status = "No image matches that filter." if what == "" else f"No image matches{what}."
        return (gr.update(value=gallery, height=_gallery_height(len(results))), table, status,
                [r.id for r in results])

    def failed(exc: Exception) -> tuple:
        return gr.update(value=[], height=_gallery_height(0)), [], f"⚠️ {exc}", []

    def ui_search(query: str, k: float, mode: str, datasets: list[str], labels: list[str]) -> tuple:
        started = time.perf_counter()
        try:
            results = engine.search(query, k, datasets or None, mode, labels or None)
        except QueryError as exc:
            return failed(exc)
        words = "" if results or mode != "lexical" else " those words"
        return shown(results, query, started, words)

    def ui_similar(ids: list[int], k: float, datasets: list[str], labels: list[str], evt: gr.SelectData) -> tuple:
        started = time.perf_counter()
        if evt is None or not isinstance(evt.index, int) or not 0 <= evt.index < len(ids or []):
            return failed(QueryError("Pick a result first."))
        item = ids[evt.index]
        try:
            results = engine.similar(item, k, datasets or None, labels or None)
        except QueryError as exc:
            return failed(exc)
        record = engine.artifacts.records[engine.artifacts.row_of_id[item]]
        return shown(results, None, started, f" like #{evt.index + 1}, {record.source} (id {item})")

    def ui_by_image(image: str | None, k: float, mode: str, datasets: list[str], labels: list[str]) -> tuple:
        started = time.perf_counter()
        if describe_image is None:
            return ("", *failed(QueryError("Search by image is not available on this Space.")))
        try:
            description = describe_image(image)
            results = engine.search(description, k, datasets or None, mode, labels or None)
        except QueryError as exc:
            return ("", *failed(exc))
        return (description, *shown(results, description, started, " for the image's description"))

    def search(query: str, k: int = DEFAULT_K, datasets: list[str] | None = None, mode: str = DEFAULT_MODE,
               labels: list[str] | None = None) -> list[dict[str, Any]]:
        """Top-k images for a text query.

        Args:
            query: what the image shows, in plain words (at most 512 characters are used).
            k: number of results, clamped to 1..20.
            datasets: only search these datasets (names as shown in the UI); empty or None searches all.
            mode: "hybrid" (default: meaning and exact words, label names included), "dense" (meaning only) or "lexical" (exact words only).
            labels: only search images with these labels; empty or None searches all.

        Returns:
            Results best first, each with rank, id, score, dense_score (cosine similarity), lexical_score
            (BM25 over the query's best, 0..1, or null), matched (words of the description or label the query
            shares), dataset, source, label, description and image (downloaded by gradio_client to a local path).
        """
        try:
            return _api_results(engine.search(query, k, datasets, mode, labels))
        except QueryError as exc:
            raise gr.Error(str(exc)) from None

    def similar(id: int, k: int = DEFAULT_K) -> list[dict[str, Any]]:  # noqa: A002 - the API's parameter name
        """More like this: the k images whose descriptions are nearest to that of image `id`, itself left out.

        Args:
            id: the `id` of a result from /search, /similar or /search_by_image.
            k: number of results, clamped to 1..20.

        Returns:
            Results best first, the same dicts as /search (score = cosine similarity to the image's description).
        """
        try:
            return _api_results(engine.similar(id, k))
        except QueryError as exc:
            raise gr.Error(str(exc)) from None

    def search_by_image(image: FileData, k: int = DEFAULT_K) -> dict[str, Any]:
        """Search with an image: the set's captioner describes it, then that description is searched.

        Args:
            image: the image file (gradio_client: handle_file("photo.jpg")).
            k: number of results, clamped to 1..20.

        Returns:
            {"description": the generated description, "results": the same dicts as /search}.
        """
        try:
            if describe_image is None:
                raise QueryError("Search by image is not available on this Space.")
            description = describe_image(_upload_path(image))
            return {"description": description, "results": _api_results(engine.search(description, k))}
        except QueryError as exc:
            raise gr.Error(str(exc)) from None

    examples = engine.artifacts.manifest.get("examples") or list(DEFAULT_EXAMPLES)
    image_note = None if describer is None or describer.available else describer.unavailable_reason
    with SearchBlocks(title=title) as blocks:
        gr.Markdown(f"# {title}")
        gr.Markdown(_about(engine))
        with gr.Tabs():
            with gr.Tab("Describe it", id="text-tab"):
                with gr.Row():
                    query = gr.Textbox(label="Query", placeholder="e.g. " + examples[0], max_lines=1, scale=5,
                                       max_length=engine.max_query_chars, autofocus=True, elem_id="query")
                    button = gr.Button("Search", variant="primary", scale=1, elem_id="search-button")
            with gr.Tab("Search by image", id="image-tab"):
                if image_note:
                    gr.Markdown(f"⚠️ Search by image is not available: {image_note}.", elem_id="image-unavailable")
                with gr.Row():
                    upload = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], height=240,
                                      elem_id="upload")
                    with gr.Column():
                        image_button = gr.Button("Describe and search", variant="primary", elem_id="image-button",
                                                 interactive=describe_image is not None and not image_note)
                        description = gr.Textbox(label="The captioner's description of your image", lines=4,
                                                 interactive=False, elem_id="image-description")
        with gr.Accordion("Options", open=False):
            with gr.Row():
                k = gr.Slider(MIN_K, MAX_K, value=DEFAULT_K, step=1, label="Results", scale=1)
                mode = gr.Radio(MODE_CHOICES if has_lexical else MODE_CHOICES[1:2], value=DEFAULT_MODE if has_lexical else "dense",
                                label="Match by", scale=2, elem_id="mode")
            with gr.Row():
                datasets = gr.CheckboxGroup(list(engine.datasets), value=[], label="Only these datasets (none ticked: all)",
                                            scale=3)
                labels = gr.Dropdown(list(engine.labels), value=[], multiselect=True, label="Only these labels (none: all)",
                                     visible=bool(engine.labels), scale=2, elem_id="labels")
        status = gr.Markdown(elem_id="status")
        shown_ids = gr.State([])
        gallery = gr.Gallery(label="Results (click one for more like it)", columns=GALLERY_COLUMNS,
                             height=_gallery_height(0), object_fit="contain", elem_id="results", allow_preview=False)
        table = gr.Dataframe(headers=TABLE_HEADERS, datatype=["number", "number", "str", "str", "str", "markdown"],
                             interactive=False, wrap=True, label="Why each image matched", elem_id="details",
                             column_widths=["5%", "8%", "12%", "13%", "9%", "53%"])
        gr.Examples([[e] for e in examples], inputs=[query], label="Try")
        outputs = [gallery, table, status, shown_ids]
        gr.on([query.submit, button.click], ui_search, [query, k, mode, datasets, labels], outputs, api_name=False)
        gallery.select(ui_similar, [shown_ids, k, datasets, labels], outputs, api_name=False)
        image_button.click(ui_by_image, [upload, k, mode, datasets, labels], [description, *outputs], api_name=False)
        gr.api(search, api_name="search")
        gr.api(similar, api_name="similar")
        gr.api(search_by_image, api_name="search_by_image")
    return blocks

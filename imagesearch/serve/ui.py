"""The Gradio Blocks: search by words or by image, "more like this", deep links, and the public API.

The UI events and the API endpoints all call :class:`SearchEngine`, which
validates its inputs, so API callers get the same checks as the browser.
Public endpoints (also MCP tools): /search (text), /similar (more like a result), /search_by_image.

Results are cards (gr.HTML, every text escaped): image with its description as alternative text,
rank, score, match band, dataset, label and the whole description with the matched words marked, and a
"More like this" link. The page is driven by its URL: ``?q=a+cat&k=8&mode=dense&dataset=D&label=L``
runs that search on load, ``?like=ID`` shows more like an image; every search shows its link.
"""

import html
import time
from pathlib import Path
from typing import Any, Callable, TypedDict
from urllib.parse import urlencode

import gradio as gr
from gradio.data_classes import FileData

from imagesearch.errors import QueryError
from imagesearch.serve.image_query import ImageDescriber, public_name
from imagesearch.store.lexical import segments
from imagesearch.serve.search import DEFAULT_K, DEFAULT_MODE, MAX_K, MIN_K, SearchEngine, SearchResult, clamp_k, clean_id, clean_query

TITLE = "Caption Search"  # the product's name, as in the README
SCORE_FORMAT = "{:.3f}"  # one precision for every score shown
ALT_CHARS = 160
MODE_CHOICES = [("words and meaning (hybrid)", "hybrid"), ("meaning only (dense)", "dense"),
                ("exact words only (lexical)", "lexical")]


class Result(TypedDict):
    """One result, as every endpoint returns it."""

    rank: int
    id: int
    score: float
    dense_score: float | None
    lexical_score: float | None
    matched: list[str]
    dataset: str
    source: str
    label: str
    description: str
    image: FileData


class ImageSearchAnswer(TypedDict):
    """/search_by_image's answer: what the captioner saw, and the results for it."""

    description: str
    results: list[Result]


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def marked_html(description: str, query: str | None) -> str:
    """The description as HTML text with the words that share a term with the query in <mark>."""
    return "".join(f"<mark>{_text(piece)}</mark>" if matched else _text(piece)
                   for piece, matched in segments(description, query))


def band(result: SearchResult, bands: dict[str, Any] | None) -> str | None:
    """strong / fair / weak from the result's cosine and the set's measured cuts (manifest score_bands)."""
    if not bands or result.dense_score is None:
        return None
    if result.dense_score >= bands["strong"]:
        return "strong"
    return "weak" if result.dense_score < bands["weak"] else "fair"


def alt_text(description: str) -> str:
    if len(description) <= ALT_CHARS:
        return description
    return description[:ALT_CHARS].rsplit(" ", 1)[0] + "…"


def search_link(query: str | None = None, k: int = DEFAULT_K, mode: str = DEFAULT_MODE, datasets=(), labels=(),
                like: int | None = None) -> str:
    """The query string of a search (``?q=...&k=...``): what the page runs when opened with it."""
    params: list[tuple[str, Any]] = [("like", like)] if like is not None else [("q", query)]
    if k != DEFAULT_K:
        params.append(("k", k))
    if mode != DEFAULT_MODE and like is None:
        params.append(("mode", mode))
    params += [("dataset", d) for d in datasets or ()] + [("label", label) for label in labels or ()]
    return "?" + urlencode(params)


def cards_html(results: list[SearchResult], query: str | None, bands: dict[str, Any] | None, k: int) -> str:
    if not results:
        return ""
    items = []
    for r in results:
        strength = band(r, bands)
        badge = f'<span class="cs-band">{strength} match</span>' if strength else ""
        label = f' · <span class="cs-label">{_text(r.label)}</span>' if r.label else ""
        items.append(
            f'<li class="cs-card cs-{strength or "unbanded"}" data-id="{r.id}">'
            f'<img src="gradio_api/file={_text(r.image)}" alt="{_text(alt_text(r.description))}" loading="lazy">'
            f'<div class="cs-meta"><span class="cs-rank">#{r.rank}</span> '
            f'<span class="cs-score">{SCORE_FORMAT.format(r.score)}</span> {badge}'
            f'<span class="cs-where">{_text(r.dataset)}{label}</span></div>'
            f'<p class="cs-description">{marked_html(r.description, query)}</p>'
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
        f"that matched.{words} \"More like this\" under a result finds images like it."
    )


def _api_results(results: list[SearchResult]) -> list[Result]:
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
                 describer: ImageDescriber | None = None, title: str = TITLE) -> gr.Blocks:
    has_lexical = engine.artifacts.lexical is not None
    bands = engine.artifacts.manifest.get("score_bands")
    default_mode = DEFAULT_MODE if has_lexical else "dense"

    def base_of(request: gr.Request | None) -> str:
        """The page's own address (the browser's Referer), so a link is whole; relative where unknown."""
        referer = request.headers.get("referer", "") if request is not None else ""
        return referer.split("?", 1)[0].split("#", 1)[0] if referer.startswith(("http://", "https://")) else ""

    def shown(results: list[SearchResult], query: str | None, k: int, started: float, what: str, link: str) -> tuple:
        elapsed = (time.perf_counter() - started) * 1000
        count = len(results)
        status = f"{count} result{'s' if count != 1 else ''}{what} in {elapsed:.0f} ms"
        if not results:
            status = f"No image matches{what or ' that filter'}."
        return cards_html(results, query, bands, k), status, link

    def failed(exc: Exception) -> tuple:
        return "", f"⚠️ {exc}", ""

    def run_search(query, k, mode, datasets, labels, request: gr.Request | None = None) -> tuple:
        started = time.perf_counter()
        try:
            results = engine.search(query, k, datasets or None, mode, labels or None)
            kk = clamp_k(k)
        except QueryError as exc:
            return failed(exc)
        link = base_of(request) + search_link(clean_query(query), kk, mode or default_mode, datasets, labels)
        words = "" if results or mode != "lexical" else " those words"
        return shown(results, query, kk, started, words, link)

    def run_similar(item: Any, k: Any, request: gr.Request | None = None) -> tuple:
        started = time.perf_counter()
        try:
            results = engine.similar(item, k)
            item, kk = clean_id(item), clamp_k(k)
        except QueryError as exc:
            return failed(exc)
        record = engine.artifacts.records[engine.artifacts.row_of_id[item]]
        return shown(results, None, kk, started, f" like {record.source} (id {item})",
                     base_of(request) + search_link(k=kk, like=item))

    def ui_search(query: str, k: float, mode: str, datasets: list[str], labels: list[str], request: gr.Request) -> tuple:
        return run_search(query, k, mode, datasets, labels, request)

    def ui_example(query: str, request: gr.Request) -> tuple:
        return run_search(query, DEFAULT_K, default_mode, [], [], request)

    def ui_by_image(image: str | None, k: float, mode: str, datasets: list[str], labels: list[str]) -> tuple:
        started = time.perf_counter()
        if describe_image is None:
            return ("", *failed(QueryError("Search by image is not available on this Space.")))
        try:
            description = describe_image(image)
            results = engine.search(description, k, datasets or None, mode, labels or None)
        except QueryError as exc:
            return ("", *failed(exc))
        return (description, *shown(results, description, clamp_k(k), started, " for the image's description", ""))

    def on_load(request: gr.Request) -> tuple:
        """Open the page with ?q=...&k=... (or ?like=ID) and that search runs, its inputs filled in."""
        params = request.query_params if request is not None else {}
        get_all = getattr(params, "getlist", lambda name: [params[name]] if name in params else [])
        q, like = params.get("q", ""), params.get("like")
        k = params.get("k") or DEFAULT_K
        mode = params.get("mode") or default_mode
        datasets = [d for d in get_all("dataset") if d in engine.datasets]
        labels = [label for label in get_all("label") if label in engine.labels]
        fields = (q, _k_or_default(k), mode if mode in engine.modes else default_mode, datasets, labels)
        if like is not None:
            return (*fields, *run_similar(like, k, request))
        if q.strip():
            return (*fields, *run_search(q, k, mode, datasets, labels, request))
        return tuple(gr.update() for _ in range(len(fields) + 3))  # nothing asked: leave what the visitor typed

    def search(query: str, k: int = DEFAULT_K, datasets: list[str] | None = None, mode: str = DEFAULT_MODE,
               labels: list[str] | None = None) -> list[Result]:
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

    def similar(id: int, k: int = DEFAULT_K) -> list[Result]:  # noqa: A002 - the API's parameter name
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

    def search_by_image(image: FileData, k: int = DEFAULT_K) -> ImageSearchAnswer:
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

    # the set's own examples (written by `index`); a set built before that shows none rather than the demo's
    examples = [e for e in engine.artifacts.manifest.get("examples") or [] if isinstance(e, str) and e.strip()][:8]
    image_note = None if describer is None or describer.available else describer.unavailable_reason
    with SearchBlocks(title=title) as blocks:
        gr.Markdown(f"# {title}", elem_id="title")
        gr.Markdown(_about(engine))
        with gr.Tabs():
            with gr.Tab("Describe it", id="text-tab"):
                with gr.Row(elem_id="query-row"):
                    placeholder = f"e.g. {examples[0]}" if examples else "Describe the image"
                    query = gr.Textbox(label="Query", placeholder=placeholder, max_lines=1, scale=5,
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
                k = gr.Slider(MIN_K, MAX_K, value=DEFAULT_K, step=1, label="Results", scale=1, elem_id="k")
                mode = gr.Radio(MODE_CHOICES if has_lexical else MODE_CHOICES[1:2], value=default_mode,
                                label="Match by", scale=2, elem_id="mode")
            with gr.Row():
                datasets = gr.CheckboxGroup(list(engine.datasets), value=[], label="Only these datasets (none ticked: all)",
                                            scale=3, elem_id="datasets")
                labels = gr.Dropdown(list(engine.labels), value=[], multiselect=True, label="Only these labels (none: all)",
                                     visible=bool(engine.labels), scale=2, elem_id="labels")
        status = gr.Markdown(elem_id="status")
        link = gr.Textbox(label="Link to this search", interactive=False, buttons=["copy"], elem_id="link",
                          max_lines=1)
        results = gr.HTML(elem_id="results")
        outputs = [results, status, link]
        if examples:
            gr.Examples([[e] for e in examples], inputs=[query], outputs=outputs, fn=ui_example, run_on_click=True,
                        cache_examples=False, label="Try", api_name=False)
        keep_url = "(link) => { if (link) { try { history.replaceState(null, '', new URL(link, location.href).search); } catch (e) {} } }"
        gr.on([query.submit, button.click], ui_search, [query, k, mode, datasets, labels], outputs,
              api_name=False).then(None, [link], None, js=keep_url)
        image_button.click(ui_by_image, [upload, k, mode, datasets, labels], [description, *outputs], api_name=False)
        blocks.load(on_load, None, [query, k, mode, datasets, labels, *outputs], api_name=False)
        gr.api(search, api_name="search")
        gr.api(similar, api_name="similar")
        gr.api(search_by_image, api_name="search_by_image")
    return blocks


def _k_or_default(k: Any) -> int:
    try:
        return clamp_k(k)
    except QueryError:
        return DEFAULT_K

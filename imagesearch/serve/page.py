"""The page: search by words or by image, options, result cards, deep links, and the public endpoints.

Layout and events only: the search is :class:`SearchEngine`, the cards are imagesearch.serve.cards, the
links imagesearch.serve.links, the endpoints imagesearch.serve.api.
"""

from __future__ import annotations

import time
from typing import Callable

import gradio as gr

from imagesearch.errors import QueryError
from imagesearch.serve.api import NOT_AVAILABLE, SearchBlocks, endpoints
from imagesearch.serve.cards import cards_html
from imagesearch.models.fit import public_name
from imagesearch.serve.image_query import ImageDescriber
from imagesearch.serve.links import page_base, read_link, request_link
from imagesearch.serve.query_syntax import HELP
from imagesearch.serve.request import DEFAULT_K, DEFAULT_MODE, MAX_K, MAX_OFFSET, MIN_K, Request
from imagesearch.serve.search import Answer, SearchEngine
from imagesearch.store.manifest import HAND_WRITTEN, IMPORTED

TITLE = "Caption Search"  # the product's name, as in the README
HTML_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
MARKDOWN_PUNCTUATION = frozenset("\\`*_{}[]()#+-.!|~:/\"'$%,;=?@^")
MODE_CHOICES = [("words and meaning (hybrid)", "hybrid"), ("meaning only (dense)", "dense"),
                ("exact words only (lexical)", "lexical")]


def _about(engine: SearchEngine) -> str:
    manifest = engine.artifacts.manifest
    captioner = manifest.get("captioner", {}).get("model", "unspecified")
    how = {HAND_WRITTEN: "hand-written descriptions", IMPORTED: "descriptions that came with the images"}.get(
        captioner, f"descriptions written by {public_name(captioner)}")
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


def markdown_text(text: str) -> str:
    """``text`` shown as written in a Markdown component: HTML's own characters as entities, every other ASCII
    punctuation mark backslash-escaped, so no link, image, emphasis, autolink or tag can form from it."""
    return "".join(HTML_ENTITIES.get(c) or ("\\" + c if c in MARKDOWN_PUNCTUATION else c)
                   for c in " ".join(str(text).split()))


def page_offset(shown: Request, step: int) -> int:
    """Where the next (step 1) or previous (step -1) page of ``shown`` starts: k results on, or back."""
    return max(0, shown.offset + step * shown.k)


def build_blocks(engine: SearchEngine, describe_image: Callable[[str], str] | None = None,
                 describer: ImageDescriber | None = None, title: str = TITLE, image_concurrency: int = 1) -> gr.Blocks:
    """The page and the public endpoints; at most ``image_concurrency`` images are described at once (page and
    API together: each holds a decoded image and a captioner's activations)."""
    has_lexical = engine.artifacts.lexical is not None
    default_mode = DEFAULT_MODE if has_lexical else "dense"

    def base_of(request: gr.Request | None) -> str:
        return page_base(request.headers.get("referer", "") if request is not None else "")

    def shown(answer: Answer, started: float, what: str, link: str) -> tuple:
        """Cards, status, link, the request (for "More results") and the paging buttons."""
        elapsed = (time.perf_counter() - started) * 1000
        count, request = len(answer.results), answer.request
        first = request.offset + 1
        span = f"Results {first}–{first + count - 1}" if request.offset else f"{count} result{'s' if count != 1 else ''}"
        status = f"{span}{what} in {elapsed:.0f} ms"
        if not answer.results:
            status = (f"No more results{what}." if request.offset else f"No image matches{what or ' that filter'}.")
        elif answer.nothing_matches_well:
            status += ". **Nothing matches well**: every result is a weak match; try other words"
        pageable = bool(link)  # words and "more like this" searches: an upload's search is not paged
        more = gr.update(visible=pageable and count == request.k and request.offset + request.k <= MAX_OFFSET)
        back = gr.update(visible=pageable and request.offset > 0)
        return cards_html(answer.results, request.k), status, link, request, more, back

    def failed(exc: Exception) -> tuple:
        return "", f"⚠️ {markdown_text(str(exc))}", "", None, gr.update(visible=False), gr.update(visible=False)

    def run_search(query, k, mode, datasets, labels, request: gr.Request | None = None, offset=0) -> tuple:
        started = time.perf_counter()
        try:
            answer = engine.answer(query, k, datasets or None, mode, labels or None, offset)
        except QueryError as exc:
            return failed(exc)
        words = "" if answer.results or answer.request.mode != "lexical" else " those words"
        return shown(answer, started, words, base_of(request) + request_link(answer.request))

    def run_similar(item, k, request: gr.Request | None = None, offset=0) -> tuple:
        started = time.perf_counter()
        try:
            answer = engine.answer_similar(item, k, offset=offset)
        except QueryError as exc:
            return failed(exc)
        like = answer.request.like
        record = engine.artifacts.records[engine.artifacts.row_of_id[like]]
        return shown(answer, started, f" like {markdown_text(record.source)} (id {like})",
                     base_of(request) + request_link(answer.request))

    def ui_search(query: str, k: float, mode: str, datasets: list[str], labels: list[str], request: gr.Request) -> tuple:
        return run_search(query, k, mode, datasets, labels, request)

    def ui_page(last: Request | None, step: int, request: gr.Request | None) -> tuple:
        """The next (step 1) or previous (step -1) k results of the search shown."""
        if last is None:
            return failed(QueryError("Search first; then more results can be shown."))
        offset = page_offset(last, step)
        if last.like is not None:
            return run_similar(last.like, last.k, request, offset)
        return run_search(last.text, last.k, last.mode, list(last.datasets), list(last.labels), request, offset)

    def ui_more(shown_last: Request | None, request: gr.Request) -> tuple:
        return ui_page(shown_last, 1, request)

    def ui_back(shown_last: Request | None, request: gr.Request) -> tuple:
        return ui_page(shown_last, -1, request)

    def ui_example(query: str, request: gr.Request) -> tuple:
        return run_search(query, DEFAULT_K, default_mode, [], [], request)

    def ui_by_image(image: str | None, words: str, k: float, mode: str, datasets: list[str], labels: list[str]) -> tuple:
        started = time.perf_counter()
        if describe_image is None:
            return ("", *failed(QueryError(NOT_AVAILABLE)))
        try:
            description = describe_image(image)
            answer = engine.answer_image(description, words, k, datasets or None, mode, labels or None)
        except QueryError as exc:
            return ("", *failed(exc))
        refined = f" refined by {markdown_text(answer.request.refine)}" if answer.request.refine else ""
        return (description, *shown(answer, started, f" for the image's description{refined}", ""))

    def on_load(request: gr.Request) -> tuple:
        """Open the page with ?q=...&k=... (or ?like=ID) and that search runs, its inputs filled in."""
        asks = read_link(request.query_params if request is not None else {}, engine.datasets, engine.labels,
                         engine.modes, default_mode)
        if not asks.anything:
            return tuple(gr.update() for _ in load_outputs)  # nothing asked: leave what the visitor typed
        fields = (asks.query, asks.shown_k, asks.shown_mode, asks.datasets, asks.labels)
        if asks.like is not None:
            return (*fields, *run_similar(asks.like, asks.k, request, asks.offset))
        return (*fields, *run_search(asks.query, asks.k, asks.mode, asks.datasets, asks.labels, request, asks.offset))

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
                if has_lexical:
                    gr.Markdown(markdown_text(HELP), elem_id="query-help")
            with gr.Tab("Search by image", id="image-tab"):
                if image_note:
                    gr.Markdown(f"⚠️ Search by image is not available: {markdown_text(image_note)}.",
                                elem_id="image-unavailable")
                with gr.Row():
                    upload = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], height=240,
                                      elem_id="upload")
                    with gr.Column():
                        refine = gr.Textbox(label="Words to refine it (optional)", placeholder="e.g. but red -dress",
                                            max_lines=1, max_length=engine.max_query_chars, elem_id="refine")
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
        with gr.Row():
            back_button = gr.Button("Previous results", visible=False, size="sm", elem_id="previous-results")
            more_button = gr.Button("More results", visible=False, size="sm", elem_id="more-results")
        last = gr.State(None)  # the request shown: "More results" asks for its next k
        outputs = [results, status, link, last, more_button, back_button]
        if examples:
            gr.Examples([[e] for e in examples], inputs=[query], outputs=outputs, fn=ui_example, run_on_click=True,
                        cache_examples=False, label="Try", api_name=False)
        keep_url = "(link) => { if (link) { try { history.replaceState(null, '', new URL(link, location.href).search); } catch (e) {} } }"
        gr.on([query.submit, button.click], ui_search, [query, k, mode, datasets, labels], outputs,
              api_name=False).then(None, [link], None, js=keep_url)
        captioning = {"concurrency_limit": image_concurrency, "concurrency_id": "captioner"}  # page and API share it
        image_button.click(ui_by_image, [upload, refine, k, mode, datasets, labels], [description, *outputs],
                           api_name=False, **captioning)
        more_button.click(ui_more, [last], outputs, api_name=False).then(None, [link], None, js=keep_url)
        back_button.click(ui_back, [last], outputs, api_name=False).then(None, [link], None, js=keep_url)
        load_outputs = [query, k, mode, datasets, labels, *outputs]
        blocks.load(on_load, None, load_outputs, api_name=False)
        for name, function in endpoints(engine, describe_image if not image_note else None).items():
            gr.api(function, api_name=name, **(captioning if name == "search_by_image" else {}))
    return blocks

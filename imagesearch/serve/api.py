"""The public endpoints: /search (words), /similar (more like a result), /search_by_image; also MCP tools.

Each is a plain function with a docstring and types (Gradio turns them into the API page and the MCP
tool descriptions) that calls the SearchEngine, so API callers get the same checks as the page; a
request that cannot be answered is one line (gr.Error) to the caller and one line in the server's log, never a
traceback (those are kept for real faults). Annotations stay real objects here (no
``from __future__ import annotations``): Gradio reads them to type the API.
"""

import logging
from pathlib import Path
from typing import Any, Callable, TypedDict

import gradio as gr
from gradio.data_classes import FileData

from imagesearch.errors import QueryError
from imagesearch.serve.request import DEFAULT_K, DEFAULT_MODE
from imagesearch.serve.search import Answer, SearchEngine

log = logging.getLogger(__name__)


class Result(TypedDict):
    """One result, as every endpoint returns it."""

    rank: int
    id: int
    score: float
    dense_score: float | None
    lexical_score: float | None
    matched: list[str]
    band: str | None
    dataset: str
    source: str
    label: str
    description: str
    image: FileData | None


class ImageSearchAnswer(TypedDict):
    """/search_by_image's answer: what the captioner saw, and the results for it."""

    description: str
    results: list[Result]
    nothing_matches_well: bool


def refused(endpoint: str, exc: QueryError) -> gr.Error:
    """The caller's one-line answer to a request that cannot be answered; the log gets one line too."""
    message = " ".join(str(exc).split())
    log.info("/%s refused: %s", endpoint, message[:300])
    return gr.Error(message, print_exception=False)


def api_results(answer: Answer) -> list[Result]:
    """The answer's results as the API returns them. /search stays a list (its callers index it), so there
    "nothing matches well" is every result's band being "weak"; /search_by_image's dict also says it by name."""
    return [dict(r.as_dict(), image=FileData(path=r.image).model_dump() if r.image else None) for r in answer.results]


def upload_path(image: Any) -> str:
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


NOT_AVAILABLE = "Search by image is not available on this Space."


def endpoints(engine: SearchEngine, describe_image: Callable[[str], str] | None) -> dict[str, Callable]:
    """The public endpoints by API name, ready for gr.api."""

    def search(query: str, k: int = DEFAULT_K, datasets: list[str] | None = None, mode: str = DEFAULT_MODE,
               labels: list[str] | None = None, offset: int = 0) -> list[Result]:
        """Top-k images for a text query.

        Args:
            query: what the image shows, in plain words (at most 512 characters are used). -word leaves out images whose description, label or dataset holds the word (stemmed: -dress also leaves out dresses); "a red dress" in double quotes keeps only images whose description or label holds those words in that order.
            k: number of results, clamped to 1..20.
            datasets: only search these datasets (names as shown in the UI); empty or None searches all.
            mode: "hybrid" (default: meaning and exact words, label names included), "dense" (meaning only) or "lexical" (exact words only).
            labels: only search images with these labels; empty or None searches all.
            offset: skip this many results (0..180): offset=k gives the next k of the same ranking.

        Returns:
            Results best first, each with rank (offset+1 onwards), id, score (what the ranking used), dense_score
            (cosine similarity: how much the description means the query), lexical_score (share of the query's
            words, weighted by rarity, the row holds, 0..1, or null), matched (words of the description or label
            the query shares), band ("strong", "fair" or "weak", cut on dense_score with cuts measured on the
            set; null where the set is too small to measure them; when every result is "weak", nothing in the
            set matches the query well), dataset, source, label, description and image (downloaded by
            gradio_client to a local path; null when the Space could not read that image).
        """
        try:
            return api_results(engine.answer(query, k, datasets, mode, labels, offset))
        except QueryError as exc:
            raise refused("search", exc) from None

    def similar(id: int, k: int = DEFAULT_K, offset: int = 0) -> list[Result]:  # noqa: A002 - the API's parameter name
        """More like this: the k images whose descriptions are nearest to that of image `id`, itself left out.

        Args:
            id: the `id` of a result from /search, /similar or /search_by_image.
            k: number of results, clamped to 1..20.
            offset: skip this many results (0..180): offset=k gives the next k.

        Returns:
            Results best first, the same dicts as /search (score = cosine similarity to the image's description;
            band cut on cuts measured between the set's own descriptions).
        """
        try:
            return api_results(engine.answer_similar(id, k, offset=offset))
        except QueryError as exc:
            raise refused("similar", exc) from None

    def search_by_image(image: FileData, k: int = DEFAULT_K, words: str = "") -> ImageSearchAnswer:
        """Search with an image: the set's captioner describes it, then that description is searched, refined by optional words.

        Args:
            image: the image file (gradio_client: handle_file("photo.jpg")).
            k: number of results, clamped to 1..20.
            words: optional words that refine the search ("but red", "at night -people", "\"white dots\""): their meaning is added to the description's, they alone count as exact words, and -word or quoted phrases filter as in /search.

        Returns:
            {"description": the generated description, "results": the same dicts as /search,
            "nothing_matches_well": true when every result is a weak match}.
        """
        try:
            if describe_image is None:
                raise QueryError(NOT_AVAILABLE)
            description = describe_image(upload_path(image))
            answer = engine.answer_image(description, words, k)
            return {"description": description, "results": api_results(answer),
                    "nothing_matches_well": answer.nothing_matches_well}
        except QueryError as exc:
            raise refused("search_by_image", exc) from None

    return {"search": search, "similar": similar, "search_by_image": search_by_image}

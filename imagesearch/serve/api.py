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
    """The public endpoints by API name, ready for gr.api: search_by_image only where an upload can be described,
    so an agent is never offered a tool that can only refuse."""

    def search(query: str, k: int = DEFAULT_K, datasets: list[str] | None = None, mode: str = DEFAULT_MODE,
               labels: list[str] | None = None, offset: int = 0) -> list[Result]:
        """Find the images of this collection that best match a text query.

        Args:
            query: what the image shows, in plain words (at most 512 characters are used). -word leaves out images whose description, label or dataset holds the word (stemmed: -dress also leaves out dresses); "a red dress" in double quotes keeps only images whose description or label holds those words in that order; at most 8 quoted phrases and -words.
            k: how many results to return, a whole number from 1 to 20 (default 5).
            datasets: only search these datasets (names as shown on the page); empty or null searches all.
            mode: "hybrid" (default: meaning and exact words, label names included), "dense" (meaning only) or "lexical" (exact words only).
            labels: only search images with these labels; empty or null searches all.
            offset: skip this many results, a whole number from 0 to 180: offset=k gives the next k of the same ranking; past the last result the answer is an error saying there are no more results.

        Returns:
            A list of results, best first. Each has: rank (offset+1 onwards); id (give it to similar for more like it); score (what the ranking used); dense_score (cosine similarity between the query and the image's description); lexical_score (0 to 1, how much of the query's wording the description or label holds, rare words weighing more; null in dense mode); matched (the query's words found in the description or label); band ("strong", "fair" or "weak": how well the image matches, judged against this collection; null where the collection is too small to judge; when every result is "weak", nothing here matches the query well); dataset; source; label; description; image (the picture; null when it could not be read).
        """
        try:
            return api_results(engine.answer(query, k, datasets, mode, labels, offset))
        except QueryError as exc:
            raise refused("search", exc) from None

    def similar(id: int, k: int = DEFAULT_K, offset: int = 0) -> list[Result]:  # noqa: A002 - the API's parameter name
        """More like this: the images whose descriptions are nearest to that of image `id`, that image left out.

        Args:
            id: the id of an image, as any search result gives it.
            k: how many results to return, a whole number from 1 to 20 (default 5).
            offset: skip this many results, a whole number from 0 to 180: offset=k gives the next k.

        Returns:
            A list of results, best first, with the same fields as search. Here score and dense_score are the cosine similarity between the two descriptions, and band is judged against how alike this collection's own descriptions are.
        """
        try:
            return api_results(engine.answer_similar(id, k, offset=offset))
        except QueryError as exc:
            raise refused("similar", exc) from None

    def search_by_image(image: FileData, k: int = DEFAULT_K, words: str = "") -> ImageSearchAnswer:
        """Search with a picture: the collection's own captioner describes it, then that description is searched, refined by optional words.

        Args:
            image: the picture to search with (JPEG, PNG, WebP or GIF, at most 20 MB).
            k: how many results to return, a whole number from 1 to 20 (default 5).
            words: optional words that refine the search ("but red", "at night -people", "\"white dots\""): their meaning is added to the description's, only they count as exact words, and -word or quoted phrases filter as in search.

        Returns:
            An object with description (what the captioner saw in the picture), results (a list with the same fields as search) and nothing_matches_well (true when every result is a weak match).
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

    found = {"search": search, "similar": similar}
    return found if describe_image is None else {**found, "search_by_image": search_by_image}

"""Deep links: the page runs whatever its address asks.

``?q=a+cat&k=8&mode=dense&dataset=D&label=L&offset=8`` runs that search on load (``dataset`` and ``label``
may repeat; ``offset`` skips that many results, for the pages after the first; ``-words`` and quoted phrases
travel inside ``q``); ``?like=ID`` shows more like image ID. Every search writes its own link, built from the request
as the search cleaned it (imagesearch.serve.request.Request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from imagesearch.errors import QueryError
from imagesearch.serve.request import DEFAULT_K, DEFAULT_MODE, Request, clamp_k


def search_link(query: str | None = None, k: int = DEFAULT_K, mode: str = DEFAULT_MODE, datasets=(), labels=(),
                like: int | None = None, offset: int = 0) -> str:
    """The query string of a search (``?q=...&k=...``): what the page runs when opened with it."""
    params: list[tuple[str, Any]] = [("like", like)] if like is not None else [("q", query)]
    if k != DEFAULT_K:
        params.append(("k", k))
    if mode != DEFAULT_MODE and like is None:
        params.append(("mode", mode))
    params += [("dataset", d) for d in datasets or ()] + [("label", label) for label in labels or ()]
    if offset:
        params.append(("offset", offset))
    return "?" + urlencode(params)


def request_link(request: Request) -> str:
    """The link of a search as it was cleaned and run."""
    if request.like is not None:
        return search_link(k=request.k, like=request.like, offset=request.offset)
    return search_link(request.text, request.k, request.mode, request.datasets, request.labels, offset=request.offset)


def page_base(referer: str) -> str:
    """The page's own address from the browser's Referer, so a link is whole; relative where unknown."""
    return referer.split("?", 1)[0].split("#", 1)[0] if referer.startswith(("http://", "https://")) else ""


@dataclass(frozen=True)
class LinkAsks:
    """What a page address asks for, with the form's fields as they should be shown."""

    query: str
    k: Any  # as written in the address: the search cleans it
    mode: str  # as written (a mode the set lacks is refused by the search, in one line)
    shown_mode: str  # what the form shows: the mode when the set has it, else its default
    datasets: list[str]
    labels: list[str]
    like: str | None
    offset: Any = 0  # as written in the address: the search cleans it

    @property
    def shown_k(self) -> int:
        try:
            return clamp_k(self.k)
        except QueryError:
            return DEFAULT_K

    @property
    def anything(self) -> bool:
        return self.like is not None or bool(self.query.strip())


def read_link(params: Mapping[str, str], datasets: tuple[str, ...], labels: tuple[str, ...],
              modes: tuple[str, ...], default_mode: str) -> LinkAsks:
    """The search a page address asks for; names the set does not have are dropped from the form."""
    get_all = getattr(params, "getlist", lambda name: [params[name]] if name in params else [])
    mode = params.get("mode") or default_mode
    return LinkAsks(query=params.get("q", ""), k=params.get("k") or DEFAULT_K, mode=mode,
                    shown_mode=mode if mode in modes else default_mode,
                    datasets=[d for d in get_all("dataset") if d in datasets],
                    labels=[label for label in get_all("label") if label in labels],
                    like=params.get("like"), offset=params.get("offset") or 0)

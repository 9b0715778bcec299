"""How the fake Hub answers: JSON replies, errors as huggingface_hub reads them, whoami payloads, the request
log's entries, and bodies that stream from disk or die half way (a dropped connection)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import httpx2

@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    body: bytes

    def ndjson(self) -> list[dict]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


def json_reply(status: int, payload, headers: dict | None = None) -> httpx2.Response:
    return httpx2.Response(status, json=payload, headers=headers or {})


def error(status: int, message: str, code: str | None = None) -> httpx2.Response:
    headers = {"X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    return json_reply(status, {"error": message}, headers)



def whoami(name: str, role: str, write_to: tuple[str, ...] = ()) -> dict:
    """A /api/whoami-v2 answer; ``role`` fineGrained with ``write_to`` the repos or owners it may write."""
    access: dict = {"displayName": "token", "role": role}
    if role == "fineGrained":
        access["fineGrained"] = {"canReadGatedRepos": False, "global": [],
                                 "scoped": [{"entity": {"type": "user" if "/" not in w else "dataset", "name": w},
                                             "permissions": ["repo.content.read", "repo.write"]} for w in write_to]}
    return {"type": "user", "name": name, "auth": {"type": "access_token", "accessToken": access}}


class _FileStream(httpx2.SyncByteStream):
    def __init__(self, path: Path):
        self.path = path

    def __iter__(self):
        with open(self.path, "rb") as handle:
            yield from iter(lambda: handle.read(1 << 20), b"")


class _DiesHalfWay(httpx2.SyncByteStream):
    def __init__(self, data: bytes, request: httpx2.Request):
        self.data, self.request = data, request

    def __iter__(self):
        yield self.data[: len(self.data) // 2]
        raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body", request=self.request)


def dies_half_way(hub) -> Callable[[httpx2.Request], httpx2.Response]:
    """A GET answer whose headers promise the whole file and whose body breaks off at half."""

    def respond(request: httpx2.Request) -> httpx2.Response:
        match = re.match(r"^/datasets/(?P<id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", request.url.path)
        data = hub.files(match["id"], match["rev"])[unquote(match["file"])].read()
        return httpx2.Response(200, headers={"Content-Length": str(len(data))}, stream=_DiesHalfWay(data, request))

    return respond

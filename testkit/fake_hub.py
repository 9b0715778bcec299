"""A small in-memory Hugging Face Hub behind huggingface_hub's own transport seam.

``huggingface_hub.set_client_factory`` lets us hand the library an
``httpx2.Client`` whose transport is an ``httpx2.MockTransport`` answering
from this class. Everything above the transport is the library's real code:
request building, retries, status handling, the commit payload, LFS batch and
upload, ``hf_hub_download``'s HEAD + GET and its size checks.

Uploads take the plain LFS path: hf_xet is installed, and huggingface_hub
2.4 chooses Xet from ``HF_HUB_DISABLE_XET`` alone (not from a server answer),
and Xet's own Rust client would bypass this transport; so :meth:`install`
sets ``constants.HF_HUB_DISABLE_XET``. Downloads stay plain HTTP because the
answers carry no Xet headers.

Faults are injected with :meth:`fail`: a predicate on the request and the
response to give instead (once, or every time).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import httpx2

from testkit.hub_replies import Sent, _FileStream, error, json_reply, whoami
from testkit.hub_storage import ENDPOINT, LFS_SUFFIXES, Blob, Repo, git_blob_oid
from testkit.hub_uploads import Uploads


class FakeHub(Uploads):
    """Repos, tokens and a request log; ``handle`` answers one request."""

    def __init__(self, tokens: dict[str, dict] | None = None):
        self.tokens = tokens if tokens is not None else {"hf_write": whoami("alice", "write")}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.sent: list[Sent] = []
        self.bytes_served = 0  # file bytes sent by GET .../resolve/... (whole files and ranges)
        self._faults: list[tuple[Callable[[httpx2.Request], bool], Callable[[httpx2.Request], httpx2.Response], bool]] = []
        self._oids = (hashlib.sha1(f"commit {i}".encode()).hexdigest() for i in itertools.count())

    caches: list[Path] = []  # the huggingface_hub caches installed, removed by uninstall

    # -- set-up ---------------------------------------------------------------------------
    def install(self, monkeypatch) -> "FakeHub":
        import huggingface_hub
        from huggingface_hub import constants
        from huggingface_hub.utils._http import hf_request_event_hook

        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(constants, "ENDPOINT", ENDPOINT)
        # a cache of its own: nothing fetched from the fake Hub lands in (or is found in) the user's real one
        FakeHub.caches.append(Path(tempfile.mkdtemp(prefix="fake-hub-cache-")))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(FakeHub.caches[-1]))
        transport = httpx2.MockTransport(self.handle)
        huggingface_hub.set_client_factory(lambda: httpx2.Client(
            transport=transport, event_hooks={"request": [hf_request_event_hook]}, follow_redirects=True, timeout=None))
        monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda seconds: None)  # retries without waiting
        return self

    @staticmethod
    def uninstall() -> None:
        import huggingface_hub
        from huggingface_hub.utils._http import default_client_factory

        huggingface_hub.set_client_factory(default_client_factory)
        while FakeHub.caches:
            shutil.rmtree(FakeHub.caches.pop(), ignore_errors=True)

    def repo(self, repo_id: str, repo_type: str = "dataset", files: dict[str, bytes | Path] | None = None) -> Repo:
        """Create (or get) a repo; ``files`` become its first commit on main."""
        key = (repo_type, repo_id)
        if key not in self.repos:
            repo = self.repos[key] = Repo(repo_type, repo_id)
            self._commit(repo, {".gitattributes": Blob.of(b"*.parquet filter=lfs\n", ".gitattributes")})
        repo = self.repos[key]
        if files:
            tree = dict(repo.commits[repo.branches["main"]])
            for path, data in files.items():
                if isinstance(data, Path):
                    from imagesearch.store.fileio import sha256_file

                    tree[path] = Blob(data, data.stat().st_size, sha256_file(data), path.endswith(LFS_SUFFIXES))
                else:
                    tree[path] = Blob.of(data, path)
            self._commit(repo, tree)
        return repo

    def head(self, repo_id: str, repo_type: str = "dataset") -> str:
        return self.repos[(repo_type, repo_id)].branches["main"]

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, Blob]:
        repo = self.repos[(repo_type, repo_id)]
        return repo.commits[repo.resolve(revision)]

    def push_elsewhere(self, repo_id: str, path: str = "other.txt", data: bytes = b"someone else") -> str:
        """Another writer commits to main (for the 'moved on' conflict)."""
        repo = self.repos[("dataset", repo_id)]
        return self._commit(repo, dict(repo.commits[repo.branches["main"]], **{path: Blob.of(data, path)}))

    def fail(self, when: Callable[[httpx2.Request], bool], respond: Callable[[httpx2.Request], httpx2.Response],
             times: int | None = 1) -> None:
        """Answer matching requests with ``respond`` (``times`` times; None: always)."""
        for _ in range(times or 1):
            self._faults.append((when, respond, times is None))

    def requests(self, method: str | None = None, contains: str = "") -> list[Sent]:
        return [s for s in self.sent if (method is None or s.method == method) and contains in s.path]

    def commits_sent(self) -> list[list[dict]]:
        """The ndjson payload of every commit request that reached the server."""
        return [s.ndjson() for s in self.sent if s.method == "POST" and "/commit/" in s.path]

    # -- protocol ---------------------------------------------------------------------------
    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read() if request.method in ("POST", "PUT") else b""
        self.sent.append(Sent(request.method, request.url.path, body))
        for number, (when, respond, sticky) in enumerate(self._faults):
            if when(request):
                if not sticky:
                    del self._faults[number]
                return respond(request)
        path = request.url.path
        routes = [
            ("GET", r"^/api/whoami-v2$", self._whoami),
            ("POST", r"^/api/repos/create$", self._create),
            ("POST", r"^/api/validate-yaml$", lambda r: json_reply(200, {"errors": [], "warnings": []})),
            ("GET", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)(/revision/(?P<rev>.+))?$", self._info),
            ("GET", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)/auth-check/write$", self._auth_check),
            ("GET", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?P<sub>/.*)?$", self._tree),
            ("POST", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)/preupload/(?P<rev>.+)$", self._preupload),
            ("POST", r"^/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)\.git/info/lfs/objects/batch$", self._lfs_batch),
            ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", self._lfs_put),
            ("POST", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)/commit/(?P<rev>.+)$", self._commit_request),
            ("POST", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)/tag/(?P<rev>.+)$", self._create_tag),
            ("DELETE", r"^/api/(?P<t>dataset|space|model)s/(?P<id>[^/]+/[^/]+)/tag/(?P<tag>.+)$", self._delete_tag),
            ("POST", r"^/api/spaces/(?P<id>[^/]+/[^/]+)/variables$", self._variable),
            ("HEAD", r"^/(?P<t>dataset|space)s/(?P<id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self._resolve),
            ("GET", r"^/(?P<t>dataset|space)s/(?P<id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self._resolve),
        ]
        for method, pattern, answer in routes:
            match = re.match(pattern, path)
            if match and request.method == method:
                if not path.startswith(("/api/whoami", "/lfs-upload")) and not self._authorised(request):
                    return error(401, "Invalid credentials in Authorization header")
                return answer(request, **match.groupdict())
        return error(404, f"fake hub: no route for {request.method} {path}")

    def _token(self, request: httpx2.Request) -> dict | None:
        header = request.headers.get("authorization", "")
        return self.tokens.get(header.removeprefix("Bearer ").strip()) if header else None

    def _authorised(self, request: httpx2.Request) -> bool:
        return not request.headers.get("authorization") or self._token(request) is not None

    def _can_write(self, request: httpx2.Request, repo_id: str) -> bool:
        token = self._token(request)
        if token is None:
            return False
        access = token["auth"]["accessToken"]
        if access["role"] == "write":
            return True
        if access["role"] != "fineGrained":
            return False
        owner = repo_id.split("/")[0]
        for scope in access["fineGrained"]["scoped"]:
            entity = scope["entity"]
            if (entity["name"] == owner or entity["name"] == repo_id) and "repo.write" in scope["permissions"]:
                return True
        return False

    def _repo(self, t: str, repo_id: str) -> Repo | None:
        return self.repos.get((t, repo_id))

    def _whoami(self, request):
        token = self._token(request)
        return json_reply(200, token) if token else error(401, "Invalid credentials in Authorization header")

    def _create(self, request):
        payload = json.loads(request.content)
        repo_id = f"{payload.get('organization') or self._token(request)['name']}/{payload['name']}"
        repo_type = payload.get("type", "model")
        if (repo_type, repo_id) in self.repos:  # the Hub names the existing repo's url in its 409
            return json_reply(409, {"error": "You already created this repo", "url": f"{ENDPOINT}/{repo_type}s/{repo_id}"},
                         {"X-Error-Message": "You already created this repo"})
        if not self._can_write(request, repo_id):
            return error(403, "You don't have the rights to create a repo under this namespace")
        self.repo(repo_id, repo_type)
        return json_reply(200, {"url": f"{ENDPOINT}/{repo_type}s/{repo_id}"})

    def _missing(self, t, repo_id):
        return error(404, f"Repository {repo_id} not found", "RepoNotFound")

    def _info(self, request, t, id, rev=None):
        repo = self._repo(t, id)
        if repo is None:
            return self._missing(t, id)
        sha = repo.resolve(rev or "main")
        if sha is None:
            return error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        siblings = [{"rfilename": p} for p in sorted(repo.commits[sha])]
        return json_reply(200, {"id": id, "sha": sha, "siblings": siblings, "private": False, "tags": [], "downloads": 0})

    def _auth_check(self, request, t, id):
        if self._repo(t, id) is None:
            return self._missing(t, id)
        if not self._can_write(request, id):
            return error(403, f"You don't have write access to {id}")
        return json_reply(200, {})

    def _tree(self, request, t, id, rev, sub=None):
        repo = self._repo(t, id)
        if repo is None:
            return self._missing(t, id)
        sha = repo.resolve(rev)
        if sha is None:
            return error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        prefix = unquote(sub or "").strip("/")
        prefix = f"{prefix}/" if prefix else ""
        recursive = request.url.params.get("recursive") in ("true", "True", "1")
        entries, folders = [], set()
        for path, blob in sorted(repo.commits[sha].items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                folder = prefix + "/".join(parts[:depth])
                if (recursive or depth == 1) and folder not in folders:
                    folders.add(folder)
                    entries.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": folder})
            if recursive or len(parts) == 1:
                entry = {"type": "file", "oid": git_blob_oid(blob.read()) if not blob.lfs else "1" * 40,
                         "size": blob.size, "path": path}
                if blob.lfs:
                    entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": 134}
                entries.append(entry)
        return json_reply(200, entries)

    def _variable(self, request, id):
        payload = json.loads(request.content)
        self._repo("space", id).variables[payload["key"]] = payload["value"]
        return json_reply(200, {})

    def _resolve(self, request, t, id, rev, file):
        repo = self._repo(t, id)
        if repo is None:
            return self._missing(t, id)
        sha = repo.resolve(rev)
        if sha is None:
            return error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        blob = repo.commits[sha].get(unquote(file))
        if blob is None:
            return error(404, f"Entry not found: {file}", "EntryNotFound")
        etag = blob.sha256 if blob.lfs else git_blob_oid(blob.read())
        headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Content-Length": str(blob.size)}
        if blob.lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(blob.size)})
        if request.method == "HEAD":
            return httpx2.Response(200, headers=headers)
        match = re.match(r"bytes=(\d+)-(\d*)$", request.headers.get("range", ""))
        if match:  # a resumed download (bytes=N-) or one image read on demand (bytes=A-B)
            start = int(match.group(1))
            end = min(int(match.group(2)), blob.size - 1) if match.group(2) else blob.size - 1
            if start > end:
                return error(416, "Requested Range Not Satisfiable")
            headers.update({"Content-Length": str(end + 1 - start), "Content-Range": f"bytes {start}-{end}/{blob.size}"})
            self.bytes_served += end + 1 - start
            return httpx2.Response(206, headers=headers, content=blob.read_range(start, end))
        self.bytes_served += blob.size
        if isinstance(blob.data, Path):  # a benchmark's snapshot: streamed, never held whole in memory
            return httpx2.Response(200, headers=headers, stream=_FileStream(blob.data))
        return httpx2.Response(200, headers=headers, content=blob.read())

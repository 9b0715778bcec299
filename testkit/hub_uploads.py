"""The fake Hub's write side: preupload, the LFS batch and upload, commits (with parentCommit checked), tags and
Space variables. A mixin of FakeHub, which owns the repos, the LFS store and the routing."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import unquote

import httpx2

from testkit.hub_replies import error, json_reply
from testkit.hub_storage import ENDPOINT, LFS_MIN_BYTES, LFS_SUFFIXES, Blob, Repo, git_blob_oid


class Uploads:
    def _preupload(self, request, t, id, rev):
        repo = self._repo(t, id)
        if repo is None:
            return self._missing(t, id)
        if not self._can_write(request, id):
            return error(403, f"You don't have write access to {id}")
        tree = repo.commits[repo.resolve(rev) or repo.branches["main"]]
        files = []
        for item in json.loads(request.content)["files"]:
            path = item["path"]
            lfs = item["size"] >= LFS_MIN_BYTES or path.endswith(LFS_SUFFIXES)
            remote = tree.get(path)
            oid = None if remote is None else (remote.sha256 if remote.lfs else git_blob_oid(remote.read()))
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return json_reply(200, {"files": files})

    def _lfs_batch(self, request, t, id):
        if not self._can_write(request, id):
            return error(403, f"You don't have write access to {id}")
        objects = []
        for item in json.loads(request.content)["objects"]:
            entry = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.lfs:  # already stored: no upload action, the library skips it
                entry["actions"] = {"upload": {"href": f"{ENDPOINT}/lfs-upload/{item['oid']}"}}
            objects.append(entry)
        return json_reply(200, {"transfer": "basic", "objects": objects})

    def _lfs_put(self, request, oid):
        data = request.content
        if hashlib.sha256(data).hexdigest() != oid:
            return error(400, "sha256 mismatch")
        self.lfs[oid] = data
        return httpx2.Response(200)

    def _commit(self, repo: Repo, tree: dict[str, Blob]) -> str:
        oid = next(self._oids)
        repo.commits[oid] = tree
        repo.branches["main"] = oid
        return oid

    def _commit_request(self, request, t, id, rev):
        repo = self._repo(t, id)
        if repo is None:
            return self._missing(t, id)
        if not self._can_write(request, id):
            return error(403, f"You don't have write access to {id}")
        lines = [json.loads(line) for line in request.content.splitlines() if line.strip()]
        header = lines[0]["value"]
        head = repo.branches["main"]
        parent = header.get("parentCommit")
        if parent and parent != head:
            return error(412, "A commit has happened since. Please refresh and try again.")
        tree = dict(repo.commits[head])
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                data = base64.b64decode(value["content"])
                tree[value["path"]] = Blob(data, len(data), hashlib.sha256(data).hexdigest(), False)
            elif key == "lfsFile":
                if value["oid"] not in self.lfs:
                    return error(422, f"LFS object {value['oid']} was never uploaded")
                data = self.lfs[value["oid"]]
                tree[value["path"]] = Blob(data, len(data), value["oid"], True)
            elif key == "deletedFile":
                if value["path"] not in tree:
                    return error(404, "A file with this name doesn't exist", "EntryNotFound")
                del tree[value["path"]]
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                for path in [p for p in tree if p.startswith(folder)]:
                    del tree[path]
        oid = self._commit(repo, tree)
        return json_reply(200, {"commitUrl": f"{ENDPOINT}/{t}s/{id}/commit/{oid}", "commitOid": oid})

    def _create_tag(self, request, t, id, rev):
        repo = self._repo(t, id)
        tag = json.loads(request.content)["tag"]
        if tag in repo.tags:
            return error(409, f"Tag {tag} already exists")
        repo.tags[tag] = repo.resolve(rev)
        return json_reply(200, {})

    def _delete_tag(self, request, t, id, tag):
        repo = self._repo(t, id)
        if repo.tags.pop(unquote(tag), None) is None:
            return error(404, f"Tag {tag} not found", "RevisionNotFound")
        return json_reply(200, {})

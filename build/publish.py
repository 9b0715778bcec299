"""Publish step: push a validated artifact set to a Hub dataset repo in ONE commit.

The folder must first pass the checks the app runs at startup. Then every
file of the set, a parquet copy of the rows with the images embedded (so
``datasets.load_dataset(repo)`` and the Hub's viewer work) and a generated
dataset card go into a single ``create_commit`` whose ``parent_commit`` is
the head that was inspected: if the repo moved meanwhile the commit fails
instead of mixing two builds. Files the new build no longer has are deleted
in the same commit. The new commit sha is printed: that is what the Space pins.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imagesearch import manifest as mf
from imagesearch.errors import ArtifactError, first_line
from imagesearch.fileio import sha256_file
from imagesearch.records import Record
from imagesearch.startup import open_verified

from .sources import SEED_DATASETS

log = logging.getLogger(__name__)

PARQUET = "data/train-00000-of-00001.parquet"
CARD = "README.md"
KEEP_REMOTE = {".gitattributes"}
_LICENCE_IDS = {"CC-BY-4.0": "cc-by-4.0", "MIT": "mit"}


@dataclass(frozen=True)
class PublishConfig:
    artifacts: Path
    repo: str
    private: bool = False
    dry_run: bool = False
    message: str | None = None
    tag: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Upload:
    path_in_repo: str
    local: Path
    size: int
    sha256: str


def _source_licences(manifest: dict[str, Any], records: tuple[Record, ...]) -> dict[str, str]:
    licences = {}
    for name in sorted({r.dataset for r in records}):
        spec = SEED_DATASETS.get(name)
        licences[name] = spec.licence if spec else "see the source"
    hand = manifest.get("captioner", {}).get("licences")
    if hand:  # the demo records a licence per image
        for name in licences:
            licences[name] = "; ".join(sorted({v for k, v in hand.items() if k.startswith(f"{name}/")})) or licences[name]
    return licences


def dataset_card(repo: str, manifest: dict[str, Any], records: tuple[Record, ...]) -> str:
    licences = _source_licences(manifest, records)
    ids = {_LICENCE_IDS.get(value, "other") for value in licences.values()}
    captioner = manifest.get("captioner", {})
    embedding, index = manifest["embedding"], manifest["index"]
    count = len(records)
    size = "n<1K" if count < 1_000 else "1K<n<10K" if count < 10_000 else "10K<n<100K" if count < 100_000 else "100K<n<1M"
    metadata = {
        "license": ids.pop() if len(ids) == 1 else "other",
        "pretty_name": f"Captioned images for text-to-image search ({repo})",
        "task_categories": ["image-to-text", "text-to-image"],
        "tags": ["image-retrieval", "captions", "faiss", "sentence-transformers"],
        "size_categories": [size],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": PARQUET}]}],
    }
    per_dataset = {}
    for record in records:
        per_dataset[record.dataset] = per_dataset.get(record.dataset, 0) + 1
    rows = "\n".join(f"| {name} | {SEED_DATASETS[name].repo if name in SEED_DATASETS else '(local)'} | {n} | {licences[name]} |"
                     for name, n in sorted(per_dataset.items()))
    prompts = "\n".join(f"{i}. \"{p}\"" for i, p in enumerate(captioner.get("prompts", []), start=1)) or "(none: hand-written)"
    return f"""---
{yaml.safe_dump(metadata, sort_keys=False).strip()}
---

# Captioned images for text-to-image search

{count:,} images, each with a description written by **{captioner.get('model', 'unspecified')}**, plus the
vectors and FAISS index a search Space serves. Built by `python -m build all` and published by
`python -m build publish` in one commit.

| dataset | source | images | licence |
|---|---|---|---|
{rows}

## How it was built

- Captioner: `{captioner.get('model', 'unspecified')}`, generation settings
  `{json.dumps(captioner.get('generation', {}), sort_keys=True)}`; answers to these prompts joined with one space:

{prompts}

- Embeddings: `{embedding['model']}`, {embedding['dimension']}-d, L2-normalised float32 (`{mf.EMBEDDING}`).
- Index: FAISS `{index['type']}` {json.dumps(index.get('params', {}), sort_keys=True)}, recall@5 {index.get('recall_at_5')} (`{mf.INDEX}`).
- `{mf.MANIFEST}` lists the sha256 of every file; `{mf.DESCRIPTIONS}` has one row per image (id = vector position).

## Load it

```python
from datasets import load_dataset
rows = load_dataset("{repo}", split="train")  # image, description, dataset, source, label, id
```
"""


def write_parquet(folder: Path, records: tuple[Record, ...], out: Path) -> None:
    from datasets import Dataset, Features, Image, Value

    features = Features({"id": Value("int64"), "image": Image(), "description": Value("string"),
                         "dataset": Value("string"), "source": Value("string"), "label": Value("string")})
    columns: dict[str, list] = {name: [] for name in features}
    for record in records:
        columns["id"].append(record.id)
        columns["image"].append({"bytes": (folder / record.image).read_bytes(), "path": Path(record.image).name})
        for name in ("description", "dataset", "source", "label"):
            columns[name].append(getattr(record, name))
    out.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(out))


def plan_uploads(folder: Path, staging: Path, repo: str) -> list[Upload]:
    """Validate the set like the app does, then list every file of the commit."""
    artifacts, _ = open_verified(folder)
    write_parquet(artifacts.folder, artifacts.records, staging / PARQUET)
    (staging / CARD).write_text(dataset_card(repo, artifacts.manifest, artifacts.records), encoding="utf-8")
    # the set's own files were just verified against these checksums: no need to hash them again
    uploads = [Upload(name, artifacts.folder / name, entry["bytes"], entry["sha256"])
               for name, entry in artifacts.manifest["files"].items()]
    for name, path in ((mf.MANIFEST, artifacts.folder / mf.MANIFEST), (PARQUET, staging / PARQUET), (CARD, staging / CARD)):
        uploads.append(Upload(name, path, path.stat().st_size, sha256_file(path)))
    return sorted(uploads, key=lambda u: u.path_in_repo)


def move_tag(api, repo: str, tag: str, sha: str, repo_type: str, token: str | None) -> None:
    """Point ``tag`` at ``sha``, whether or not it existed."""
    try:
        api.delete_tag(repo, tag=tag, repo_type=repo_type, token=token)
    except Exception as exc:  # noqa: BLE001 - a tag that does not exist yet
        log.debug("tag %s not deleted (%s)", tag, exc)
    api.create_tag(repo, tag=tag, revision=sha, repo_type=repo_type, token=token)


def require_write_token(token: str | None, api) -> str:
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise ArtifactError("no Hugging Face token: set HF_TOKEN or run `hf auth login` with a token that can write")
    try:
        who = api.whoami(token=token)
    except Exception as exc:  # noqa: BLE001
        raise ArtifactError(f"the Hub did not accept the token ({first_line(exc, 200)}); check HF_TOKEN and the network") from None
    role = who.get("auth", {}).get("accessToken", {}).get("role")
    if role == "read":
        raise ArtifactError(f"the token of {who.get('name', '?')} is read-only; create a write token and set HF_TOKEN")
    return token


def run_publish(config: PublishConfig, api=None) -> str | None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = api or HfApi()
    folder = Path(config.artifacts)
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        uploads = plan_uploads(folder, Path(tmp), config.repo)
        token = None if config.dry_run else require_write_token(config.token, api)
        head, remote = None, None
        try:
            if not config.dry_run:
                api.create_repo(config.repo, repo_type="dataset", private=config.private, exist_ok=True, token=token)
            head = api.repo_info(config.repo, repo_type="dataset", token=token or config.token).sha
            remote = api.list_repo_files(config.repo, repo_type="dataset", revision=head, token=token or config.token)
        except Exception as exc:  # noqa: BLE001
            if not config.dry_run:
                raise ArtifactError(f"{config.repo}: cannot read the repo ({first_line(exc, 200)})") from None
            log.warning("%s: not reachable (%s); cannot list what would be deleted", config.repo, type(exc).__name__)
        new_paths = {u.path_in_repo for u in uploads}
        deletions = sorted(set(remote or []) - new_paths - KEEP_REMOTE)
        if config.dry_run:
            for upload in uploads:
                print(f"add    {upload.path_in_repo}  {upload.size} bytes  sha256 {upload.sha256}")
            for path in deletions:
                print(f"delete {path}")
            if remote is None:
                print("delete (unknown: the repo could not be read)")
            print(f"dry run: {len(uploads)} files, {sum(u.size for u in uploads):,} bytes; nothing was sent")
            return None
        operations = [CommitOperationAdd(path_in_repo=u.path_in_repo, path_or_fileobj=str(u.local)) for u in uploads]
        operations += [CommitOperationDelete(path_in_repo=path) for path in deletions]
        count = len([u for u in uploads if u.path_in_repo.startswith("images/")])
        message = config.message or f"Publish {count} images ({len(deletions)} files removed)"
        info = api.create_commit(config.repo, operations, commit_message=message, repo_type="dataset",
                                 parent_commit=head, token=token)
        sha = info.oid
        if config.tag:
            move_tag(api, config.repo, config.tag, sha, "dataset", token)
    print(sha)
    log.info("published %s@%s (%d files added, %d deleted)", config.repo, sha, len(uploads), len(deletions))
    return sha

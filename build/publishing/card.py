"""The generated dataset card (README.md of the dataset repo): metadata the Hub reads, and how the set was built."""

from __future__ import annotations

import json
from typing import Any

import yaml

from imagesearch.store import manifest as mf
from imagesearch.store.records import Record

from build.caption.sources import SEED_DATASETS

CARD = "README.md"
_LICENSE_IDS = {"CC-BY-4.0": "cc-by-4.0", "MIT": "mit"}


def _source_licenses(manifest: dict[str, Any], records: tuple[Record, ...]) -> dict[str, str]:
    licenses = {}
    for name in sorted({r.dataset for r in records}):
        spec = SEED_DATASETS.get(name)
        licenses[name] = spec.license if spec else "see the source"
    captioner = manifest.get("captioner", {})
    hand = captioner.get("licenses") or captioner.get("licences")  # sets built before the rename say "licences"
    if hand:  # the demo records a license per image
        for name in licenses:
            licenses[name] = "; ".join(sorted({v for k, v in hand.items() if k.startswith(f"{name}/")})) or licenses[name]
    return licenses


def dataset_card(repo: str, manifest: dict[str, Any], records: tuple[Record, ...], data_files: list[str]) -> str:
    licenses = _source_licenses(manifest, records)
    ids = {_LICENSE_IDS.get(value, "other") for value in licenses.values()}
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
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": data_files}]}],
    }
    per_dataset = {}
    for record in records:
        per_dataset[record.dataset] = per_dataset.get(record.dataset, 0) + 1
    rows = "\n".join(f"| {name} | {SEED_DATASETS[name].repo if name in SEED_DATASETS else '(local)'} | {n} | {licenses[name]} |"
                     for name, n in sorted(per_dataset.items()))
    prompts = "\n".join(f"{i}. \"{p}\"" for i, p in enumerate(captioner.get("prompts", []), start=1)) or "(none: hand-written)"
    return f"""---
{yaml.safe_dump(metadata, sort_keys=False).strip()}
---

# Captioned images for text-to-image search

{count:,} images, each with a description written by **{captioner.get('model', 'unspecified')}**, plus the
vectors and FAISS index a search Space serves. Built by `python -m build all` and published by
`python -m build publish`. The images live inside the parquet shards under `data/` (the files this card's
config names); `{mf.MANIFEST}` lists the sha256 of every shard and of every image.

| dataset | source | images | license |
|---|---|---|---|
{rows}

## How it was built

- Captioner: `{captioner.get('model', 'unspecified')}`, generation settings
  `{json.dumps(captioner.get('generation', {}), sort_keys=True)}`; answers to these prompts joined with one space:

{prompts}

- Embeddings: `{embedding['model']}`, {embedding['dimension']}-d, L2-normalised float32 (`{mf.EMBEDDING}`).
- Index: FAISS `{index['type']}` {json.dumps(index.get('params', {}), sort_keys=True)}, recall@5 {index.get('recall_at_5')} (`{mf.INDEX}`).
- `{mf.DESCRIPTIONS}` has one row per image, in vector order; ids are stable across rebuilds (see the project README).

## Load it

```python
from datasets import load_dataset
rows = load_dataset("{repo}", split="train")  # image, description, dataset, source, label, id
```
"""

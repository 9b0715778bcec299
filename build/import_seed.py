"""Import the seed system's header-less ``id,description`` CSV into an artifact folder."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ArtifactError
from imagesearch.models.caption_text import clean_caption
from imagesearch.models.captioner import CLEANER_VERSION, DEFAULT_CAPTIONER, SEED_PROMPTS
from imagesearch.store import manifest as mf
from imagesearch.store.fileio import staged
from imagesearch.store.records import IMAGES_DIR, Record, read_seed_csv, write_records

from .cli import Step, add_artifacts

SEED_CAPTIONER = {
    "model": DEFAULT_CAPTIONER,
    "prompts": list(SEED_PROMPTS),
    "cleaner_version": CLEANER_VERSION,  # the seed's text, cleaned like describe's output
    "generation": {"do_sample": False, "max_length": 512, "min_length": 16, "quantization": "4-bit"},
    "source": "imported from the seed system's description.csv",
}


@dataclass(frozen=True)
class ImportSeedConfig:
    csv: Path
    artifacts: Path
    dataset: str = "fashionpedia"
    images: Path | None = None


def run_import_seed(config: ImportSeedConfig) -> int:
    rows = read_seed_csv(config.csv)
    folder = Path(config.artifacts)
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    records = []
    for position, (seed_id, description) in enumerate(rows):
        image = f"{IMAGES_DIR}/{seed_id}.jpg"
        if config.images is not None:
            source = Path(config.images) / f"{seed_id}.jpg"
            if not source.is_file():
                raise ArtifactError(f"{source}: seed image for row {seed_id} not found; pass the seed's images/ folder with --images")
            shutil.copyfile(source, folder / image)
        if not (folder / image).is_file():
            raise ArtifactError(f"{folder / image}: image for seed row {seed_id} not found; pass the seed's images/ folder with --images")
        # the seed's Vicuna often continued the instruction (". The image ...", ", including the people, ...")
        records.append(Record(position, config.dataset, str(seed_id), "", image, clean_caption(description, SEED_PROMPTS[0])))
    with staged(folder) as stage:
        write_records(stage.path(mf.DESCRIPTIONS), records)
        mf.write_manifest(folder, mf.new_manifest(dict(SEED_CAPTIONER)), records, stage)
    print(f"imported {len(records)} seed descriptions -> {folder / mf.DESCRIPTIONS}")
    return len(records)


def _arguments(parser) -> None:
    parser.add_argument("--csv", type=Path, required=True, help="the seed's description.csv")
    add_artifacts(parser)
    parser.add_argument("--dataset", default="fashionpedia", help="dataset name for every row (default fashionpedia)")
    parser.add_argument("--images", type=Path, default=None, help="the seed's images/ folder ({id}.jpg files) to copy in")


STEP = Step("import-seed", "import the seed's header-less id,description CSV",
            "Convert the seed system's description.csv into this project's format.", _arguments,
            lambda args, env: run_import_seed(ImportSeedConfig(args.csv, args.artifacts, args.dataset, args.images)))

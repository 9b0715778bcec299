"""Import the seed system's header-less ``id,description`` CSV (images ``{id}.jpg``): a case of ``build import``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagesearch.models.caption_text import clean_caption
from imagesearch.models.captioner import CLEANER_VERSION, DEFAULT_CAPTIONER, SEED_PROMPTS
from imagesearch.store import manifest as mf
from imagesearch.store.records import IMAGES_DIR, read_seed_csv

from build.step import Step, add_artifacts
from build.import_descriptions import Row, import_rows

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
    """The seed's CSV through the same import as any collection's descriptions (build/import_descriptions.py)."""
    folder = Path(config.artifacts)
    images = Path(config.images) if config.images is not None else folder / IMAGES_DIR
    # the seed's Vicuna often continued the instruction (". The image ...", ", including the people, ..."): cleaned
    rows = [Row(f"{Path(config.csv).name} row {seed_id}", f"{seed_id}.jpg",
                clean_caption(description, SEED_PROMPTS[0]), "", config.dataset, str(seed_id))
            for seed_id, description in read_seed_csv(config.csv)]
    records = import_rows(rows, images, folder, dict(SEED_CAPTIONER))
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

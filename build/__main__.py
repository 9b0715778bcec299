"""Command line of the build: ``python -m build <step> --help``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imagesearch.encoder import DEFAULT_MODEL
from imagesearch.errors import ArtifactError, ConfigError
from imagesearch.vector_index import KINDS, IndexSpec

from .embed import EmbedConfig, run_embed
from .index import IndexConfig, run_index


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_artifacts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", type=Path, required=True, help="artifact folder (description.csv, embedding.pkl, index.faiss, manifest.json, images/)")


def _add_embed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"sentence-transformers hub id or local folder (default {DEFAULT_MODEL})")
    parser.add_argument("--batch-size", type=_positive, default=32, help="descriptions encoded per batch (default 32)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cuda when available)")


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", choices=KINDS, default="auto", help="auto (exact flat up to 250,000 vectors), flat (exact) or ivf (approximate)")
    parser.add_argument("--nlist", type=_positive, default=None, help="ivf: number of clusters (default 4*sqrt(N), at least 39 points each)")
    parser.add_argument("--nprobe", type=_positive, default=None, help="ivf: clusters searched per query (default: tuned until recall@5 >= 0.99)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m build", description="Build the artifact set the search Space serves.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    embed = steps.add_parser("embed", help="description.csv -> embedding.pkl", description="Encode every description into an L2-normalised vector.")
    _add_artifacts(embed)
    _add_embed_options(embed)

    index = steps.add_parser("index", help="embedding.pkl -> index.faiss", description="Build the FAISS index (exact by default).")
    _add_artifacts(index)
    _add_index_options(index)

    every = steps.add_parser("all", help="run embed, then index", description="Run the build steps in order: embed, index.")
    _add_artifacts(every)
    _add_embed_options(every)
    _add_index_options(every)

    seed = steps.add_parser("import-seed", help="import the seed's header-less id,description CSV", description="Convert the seed system's description.csv into this project's format.")
    seed.add_argument("--csv", type=Path, required=True, help="the seed's description.csv")
    _add_artifacts(seed)
    seed.add_argument("--dataset", default="fashionpedia", help="dataset name for every row (default fashionpedia)")
    seed.add_argument("--images", type=Path, default=None, help="the seed's images/ folder ({id}.jpg files) to copy in")

    demo = steps.add_parser("demo", help="rebuild the embedded demo gallery", description="Rebuild demo/artifacts from demo/descriptions.csv and the photos in the scikit-image and scikit-learn wheels.")
    demo.add_argument("--out", type=Path, default=None, help="output folder (default demo/artifacts)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.step in ("embed", "all"):
            run_embed(EmbedConfig(args.artifacts, args.model, args.batch_size, args.device))
        if args.step in ("index", "all"):
            run_index(IndexConfig(args.artifacts, IndexSpec(args.index, args.nlist, args.nprobe)))
        if args.step == "import-seed":
            from .import_seed import ImportSeedConfig, run_import_seed

            run_import_seed(ImportSeedConfig(args.csv, args.artifacts, args.dataset, args.images))
        if args.step == "demo":
            from .demo import DemoConfig, run_demo

            run_demo(DemoConfig(out=args.out) if args.out else DemoConfig())
    except (ArtifactError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

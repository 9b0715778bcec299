"""Captioning throughput on Ray with 1 and 2 workers, and whether every engine wrote the same description.csv.

    python -m benchmarks.cluster                                   # the tiny Florence-2, 24 photos
    python -m benchmarks.cluster --shape florence-2-base --images 8 --new-tokens 24   # real shape, random weights
    python -m benchmarks.cluster --ray-address HOST:6379 --workers 1,2,4,8            # a cluster (one per GPU)

The photographs are scikit-image's at several sizes (each a different image). Each worker count captions the
same photos into a fresh folder through ``build describe --engine ray`` (in this process, on one Ray started
once), timed from the first image planned to description.csv written, so an actor's model load is part of it;
the local engine captions them once more as the reference. images_per_s is images over that time. The last
stdout line is exactly {"workers": [...], "images_per_s": [...], "identical": ...}; identical is true when
every Ray run's description.csv equals the local engine's byte for byte.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

log = logging.getLogger("benchmarks.cluster")


def _photos(folder: Path, count: int) -> Path:
    import numpy as np
    import skimage.data
    from PIL import Image

    from benchmarks.caption import PHOTOS

    for index in range(count):
        name = PHOTOS[index % len(PHOTOS)]
        array = getattr(skimage.data, name)()
        array = array[0] if isinstance(array, tuple) else array
        image = Image.fromarray(np.asarray(array)).convert("RGB")
        side = 512 - 32 * (index // len(PHOTOS))  # the same photo again is another size: another image
        image.thumbnail((side, side))
        (folder / name).mkdir(parents=True, exist_ok=True)
        image.save(folder / name / f"{index:04d}.png")
    return folder


def _model(shape: str, folder: Path, new_tokens: int) -> Path:
    if shape == "tiny-florence2":
        from testkit.tiny_captioner import build_tiny_florence2

        return build_tiny_florence2(folder)
    from benchmarks.caption_shapes import save_model

    return save_model(shape, folder, new_tokens)


def _run(config) -> float:
    from build.describe import run_describe

    started = time.perf_counter()
    run_describe(config)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="tiny-florence2",
                        help="tiny-florence2, or a real shape of benchmarks.caption_shapes (e.g. florence-2-base)")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--batch", type=int, default=2, help="images per generate() call (default 2)")
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the edge of this script: the models are local folders

    import ray

    from build.caption.settings import DescribeConfig
    from build.engine_flags import EngineConfig
    from imagesearch.models.captioner import GenerationSettings
    from imagesearch.store import manifest as mf

    counts = [int(part) for part in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        root = Path(tmp)
        photos = _photos(root / "photos", args.images)
        model = _model(args.shape, root / "model", args.new_tokens)
        base = DescribeConfig(root / "local", datasets=(str(photos),), captioner=str(model),
                              caption_batch_size=args.batch, generation=GenerationSettings(max_new_tokens=args.new_tokens),
                              device="cpu", offline=True, runtime=args.runtime, dtype=args.dtype, exports=root / "exports")
        local_seconds = _run(base)
        reference = (root / "local" / mf.DESCRIPTIONS).read_bytes()
        ray.init(address=args.ray_address, include_dashboard=False, log_to_driver=False,
                 **({} if args.ray_address else {"num_cpus": os.cpu_count()}))
        rates, same = [], True
        try:
            for count in counts:
                folder = root / f"ray-{count}"
                seconds = _run(replace(base, artifacts=folder, engine=EngineConfig("ray", args.ray_address, count)))
                rates.append(round(args.images / seconds, 3))
                same &= (folder / mf.DESCRIPTIONS).read_bytes() == reference
                print(f"{args.shape}: {count} worker(s): {args.images} images in {seconds:.1f} s "
                      f"({args.images / seconds:.2f} images/s)", flush=True)
        finally:
            ray.shutdown()
    print(f"{args.shape}: local engine: {args.images} images in {local_seconds:.1f} s "
          f"({args.images / local_seconds:.2f} images/s)")
    print(json.dumps({"workers": counts, "images_per_s": rates, "identical": same}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

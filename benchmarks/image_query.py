"""Search by image on a CPU-only Space: seconds per /search_by_image call, through the app, per captioner runtime.

    python -m benchmarks.image_query --shape florence-2-base --runtime torch:float32 --runtime auto --calls 7 --json

The captioner is the real architecture with random weights (benchmarks.caption_shapes), saved to a folder and
named by CAPTIONER as a Space would; the set is the embedded demo, its manifest saying the photos were captioned
with that model's default prompt and at most --new-tokens tokens. Every answer is exactly that long (the saved
generation config asks for it; a real caption ends where the model stops), and the output layer's rows past the
test tokenizer's vocabulary are zeroed so that answers decode to words. Each runtime gets its own app in its own
process: launched, one upload to load the model (and export its encoder), then --calls uploads of a photograph
through gradio_client, timed one by one. The last stdout line is the JSON of every runtime's p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.caption_shapes import save_model

log = logging.getLogger("benchmarks.image_query")


def _demo_set(model: Path, new_tokens: int, folder: Path) -> Path:
    from imagesearch.models.families import family_of
    from imagesearch.serve.config import DEMO_ARTIFACTS
    from imagesearch.store import manifest as mf

    shutil.copytree(DEMO_ARTIFACTS, folder)
    manifest = mf.read_manifest(folder)
    manifest["captioner"] = {"model": str(model), "prompts": list(family_of(str(model)).default_prompts),
                             "generation": {"max_new_tokens": new_tokens}}
    mf.rewrite_manifest(folder, manifest)
    return folder


def child(artifacts: Path, model: Path, runtime: str, calls: int) -> dict:
    """One app with CAPTIONER_RUNTIME=runtime, in this process: seconds of each timed upload."""
    import skimage.data
    from gradio_client import Client, handle_file
    from PIL import Image

    import app
    from imagesearch.serve.config import AppConfig
    from testkit.ports import free_port

    photo = artifacts.parent / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(photo)
    name, _, dtype = runtime.partition(":")
    config = AppConfig(artifacts_dir=artifacts, captioner=str(model), captioner_runtime=name,
                       captioner_dtype=dtype or "auto", port=free_port(), hub_offline=True, mcp_server=False)
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    client = Client(url, verbose=False, download_files=False)
    started = time.perf_counter()
    client.predict(handle_file(str(photo)), 5, api_name="/search_by_image")  # loads the model (and exports)
    first = time.perf_counter() - started
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        client.predict(handle_file(str(photo)), 5, api_name="/search_by_image")
        seconds.append(time.perf_counter() - started)
    client.close()
    blocks.close()
    ordered = sorted(seconds)
    return {"runtime": runtime, "first_call_s": round(first, 2), "p50_s": round(statistics.median(seconds), 3),
            "p95_s": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 3),
            "calls": [round(s, 3) for s in seconds]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.image_query", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="florence-2-base")
    parser.add_argument("--runtime", action="append", metavar="RUNTIME[:DTYPE]",
                        help="CAPTIONER_RUNTIME[:CAPTIONER_DTYPE], repeat for several (default: torch:float32, then auto)")
    parser.add_argument("--calls", type=int, default=7, help="timed uploads per runtime (default 7)")
    parser.add_argument("--new-tokens", type=int, default=48, help="tokens per answer (default 48)")
    parser.add_argument("--json", action="store_true", help="print the JSON last (always printed)")
    parser.add_argument("--child", nargs=2, metavar=("ARTIFACTS", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    runtimes = args.runtime or ["torch:float32", "auto"]
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), runtimes[0], args.calls)))
        return 0
    with tempfile.TemporaryDirectory(prefix="image-query-bench-") as work:
        work = Path(work)
        model = save_model(args.shape, work / "model", args.new_tokens)
        rows = []
        for runtime in runtimes:
            artifacts = _demo_set(model, args.new_tokens, work / f"set-{runtime.replace(':', '-')}")
            done = subprocess.run([sys.executable, "-m", "benchmarks.image_query", "--child", str(artifacts), str(model),
                                   "--runtime", runtime, "--calls", str(args.calls)], stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(f"error: runtime {runtime} failed (exit {done.returncode}); its log is above", file=sys.stderr)
                return 1
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            log.info("%s", rows[-1])
    for row in rows:
        print(f"{args.shape} /search_by_image, CAPTIONER_RUNTIME={row['runtime']}: p50 {row['p50_s']} s, "
              f"p95 {row['p95_s']} s (first call, loading included: {row['first_call_s']} s)")
    print(json.dumps({"shape": args.shape, "new_tokens": args.new_tokens,
                      "runtimes": {row["runtime"]: {k: row[k] for k in ("p50_s", "p95_s", "first_call_s")}
                                   for row in rows}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

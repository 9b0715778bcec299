"""Captioning runtimes side by side on one shape: speed, memory and agreement with float32 torch, in one run.

    python -m benchmarks.caption --shape florence-2-base --batches 4 --compare --json

Every candidate (torch float32 as the baseline, torch bfloat16, torch dynamic int8, OpenVINO's exported vision
encoder in float32 and bfloat16, and beside int8 Linear layers for the text side, and ONNX Runtime's int8 encoder
beside them, where the family exports; the
bfloat16 ones only on a CPU that multiplies bfloat16 natively, since emulated it is several times slower) runs in
a fresh process on the same random weights (seed 0) and the same photographs: one warm-up call, then --calls timed
calls of --batches images, every answer forced to --new-tokens tokens. The candidates take turns, --rounds times
(default 3), so that whatever else the machine does falls on all of them; a candidate's time is its median. An exported candidate's export (OpenVINO, ONNX) is made first, in a process of its own whose time and
peak memory are reported apart; the measured run reuses it, as every run after the first does. Each candidate then
writes, in the first round, what the agreement is measured on (testkit/caption_agreement.py, which defines the three figures): the
vision encoder's features, the first decode step's logits and the greedy tokens of every step, for the same batch.

With random weights the logits are nearly flat, so a greedy token can flip with nothing wrong (see
docs/captioning.md); the choice therefore keeps candidates by feature cosine >= 0.99. The best is the fastest kept.
The layouts then time the best one as 1 process x 2 threads against 2 processes x 1 thread, run at once, on the
same number of images. Peak memory is each process's own peak resident set (VmHWM).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("benchmarks.caption_compare")
CANDIDATES = (("torch", "float32"), ("torch", "bfloat16"), ("torch", "int8"), ("openvino", "float32"),
              ("openvino", "bfloat16"), ("openvino", "int8"), ("onnx", "int8"))


def child(shape_name: str, runtime: str, dtype: str, batch: int, calls: int, new_tokens: int, threads: int,
          exports: Path, out: Path | None) -> dict:
    """One candidate in this process: its timing, peak memory and, with out, what agreement is measured on."""
    import torch
    import transformers

    from benchmarks.caption import peak_rss_mb, photos
    from benchmarks.caption_shapes import SHAPES
    from imagesearch.models.captioner import Captioner, GenerationSettings
    from imagesearch.models.families import FAMILIES
    from imagesearch.models.runtime import cpu_flags, resolve
    from testkit.caption_agreement import outputs

    if threads:
        torch.set_num_threads(threads)
    shape = SHAPES[shape_name]
    processor, config = shape.build()
    torch.manual_seed(0)
    model = getattr(transformers, shape.model_class)._from_config(config, dtype=torch.float32).eval()
    model.generation_config.min_new_tokens = new_tokens
    captioner = Captioner(model, processor, "cpu", torch.float32, GenerationSettings(max_new_tokens=new_tokens),
                          FAMILIES[shape.model_type])
    started = time.perf_counter()
    captioner.use_runtime(resolve(runtime, dtype, False, cpu_flags(), True, True, batch=batch, onnx_ok=True), exports)
    prepare_s = time.perf_counter() - started
    if not calls:  # only make the export, so that the measured run starts as every later run does: reusing it
        return {"export_s": captioner.export.seconds if captioner.export else None, "peak_rss_mb": round(peak_rss_mb())}
    images = photos(batch)
    captioner.describe(images[:1])  # warm-up: first-call allocations and kernel choices, in every candidate
    started = time.perf_counter()
    for _ in range(calls):
        captioner.describe(images)
    seconds = (time.perf_counter() - started) / (calls * batch)
    if out is not None:
        np.savez(out, **outputs(captioner, images, new_tokens))
    export = captioner.export
    return {"runtime": captioner.runtime.runtime, "dtype": captioner.runtime.dtype, "label": captioner.runtime.label,
            "s_per_image": round(seconds, 3), "peak_rss_mb": round(peak_rss_mb()), "prepare_s": round(prepare_s, 1),
            "export_s": export.seconds if export else None, "threads": torch.get_num_threads()}


def _command(shape, runtime, dtype, batch, calls, new_tokens, threads, exports, out, vocab):
    return [sys.executable, "-m", "benchmarks.caption_compare", "--shape", shape, "--runtime", runtime, "--dtype", dtype,
            "--batch", str(batch), "--calls", str(calls), "--new-tokens", str(new_tokens), "--threads", str(threads),
            "--exports", str(exports), *(["--out", str(out)] if out else []), *(["--vocab", vocab] if vocab else [])]


def _finish(process: subprocess.Popen, what: str) -> dict:
    stdout, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {process.returncode}); its log is above")
    return json.loads(stdout.strip().splitlines()[-1])


def runnable(exportable: bool, flags: frozenset[str], installed: dict[str, bool]) -> list[tuple[str, str]]:
    """The candidates worth timing here: an export runtime only where the family exports and it is installed,
    bfloat16 only where the CPU multiplies it natively (emulated it is several times slower)."""
    from imagesearch.models.runtime import BF16_FLAGS

    native_bf16 = any(flag in flags for flag in BF16_FLAGS)
    return [(runtime, dtype) for runtime, dtype in CANDIDATES
            if (runtime == "torch" or (exportable and installed[runtime])) and (dtype != "bfloat16" or native_bf16)]


def compare(shape: str, batch: int, calls: int, new_tokens: int, vocab: str | None, rounds: int = 3) -> dict:
    """Every candidate against torch float32, the best kept one, what auto picks, and the best's layouts."""
    from benchmarks.caption_shapes import SHAPES
    from imagesearch.models.families import FAMILIES
    from imagesearch.models.runtime import cpu_flags, onnxruntime_installed, openvino_installed, resolve
    from testkit.caption_agreement import MIN_COSINE, agreement

    exportable = FAMILIES[SHAPES[shape].model_type].vision_tower is not None
    installed = {"torch": True, "openvino": openvino_installed(), "onnx": onnxruntime_installed()}
    candidates = runnable(exportable, cpu_flags(), installed)
    with tempfile.TemporaryDirectory(prefix="caption-compare-") as work:
        work = Path(work)
        exports = {}
        for runtime, dtype in candidates:
            if runtime != "torch":  # exported once, in its own process: its time and memory reported apart
                log.info("%s: exporting for %s %s", shape, runtime, dtype)
                exports[runtime, dtype] = _finish(subprocess.Popen(
                    _command(shape, runtime, dtype, batch, 0, new_tokens, 0, work / "exports", None, vocab),
                    stdout=subprocess.PIPE, text=True), f"{shape} {runtime} {dtype} export")
        runs = {candidate: [] for candidate in candidates}
        for round_ in range(max(1, rounds)):
            for runtime, dtype in candidates:
                log.info("%s: %s %s, round %d of %d", shape, runtime, dtype, round_ + 1, rounds)
                out = work / f"{runtime}-{dtype}.npz" if round_ == 0 else None
                runs[runtime, dtype].append(_finish(subprocess.Popen(
                    _command(shape, runtime, dtype, batch, calls, new_tokens, 0, work / "exports", out, vocab),
                    stdout=subprocess.PIPE, text=True), f"{shape} {runtime} {dtype}"))
        rows = []
        for (runtime, dtype), done in runs.items():
            row = dict(done[0])
            row["rounds_s_per_image"] = [run["s_per_image"] for run in done]
            row["s_per_image"] = round(float(np.median(row["rounds_s_per_image"])), 3)
            row["peak_rss_mb"] = max(run["peak_rss_mb"] for run in done)
            export = exports.get((runtime, dtype), {})
            row.update(export_s=export.get("export_s"), export_peak_rss_mb=export.get("peak_rss_mb"))
            row["arrays"] = dict(np.load(work / f"{runtime}-{dtype}.npz"))
            rows.append(row)
        baseline, reference = rows[0], rows[0]["arrays"]
        for row in rows:
            row.update(agreement(reference, row.pop("arrays")))
        kept = [row for row in rows[1:] if row["feature_cosine"] >= MIN_COSINE]
        best = min(kept, key=lambda row: row["s_per_image"]) if kept else baseline
        layouts = {"1x2": best["s_per_image"]}
        pair = [subprocess.Popen(_command(shape, best["runtime"], best["dtype"], batch, calls, new_tokens, 1,
                                          work / "exports", None, vocab), stdout=subprocess.PIPE,
                                 text=True) for i in range(2)]
        done = [_finish(process, f"{shape} {best['label']} 2x1") for process in pair]
        # both timed their calls at once, after loading: together they caption two images in one's time per image
        layouts["2x1"] = round(sum(row["s_per_image"] for row in done) / 2 / 2, 3)
        layouts["2x1_peak_rss_mb"] = sum(row["peak_rss_mb"] for row in done)
    choice = resolve("auto", "auto", False, cpu_flags(), installed["openvino"], exportable, batch=batch,
                     onnx_ok=installed["onnx"])
    summary = {key: best[key] for key in ("runtime", "dtype", "s_per_image", "peak_rss_mb", "feature_cosine",
                                          "token_agreement", "logits_max_rel_error")}
    return {"shape": shape, "batch": batch,
            "baseline": {"runtime": "torch-fp32", "s_per_image": baseline["s_per_image"],
                         "peak_rss_mb": baseline["peak_rss_mb"]},
            "best": summary, "auto": choice.label, "speedup": round(baseline["s_per_image"] / best["s_per_image"], 2),
            "candidates": rows, "layouts": layouts}


def table(result: dict) -> list[str]:
    lines = ["| runtime | s/image, median (rounds) | peak RSS MB | feature cosine | logits max rel. error | token agreement | "
             "export s (peak RSS MB) |", "|---|---|---|---|---|---|---|"]
    for row in result["candidates"]:
        export = f"{row['export_s']} ({row['export_peak_rss_mb']:,})" if row.get("export_s") is not None else "-"
        rounds = ", ".join(f"{s:.2f}" for s in row["rounds_s_per_image"])
        lines.append(f"| {row['label']} | {row['s_per_image']:.2f} ({rounds}) | {row['peak_rss_mb']:,} | {row['feature_cosine']:.5f} | "
                     f"{row['logits_max_rel_error']:.4f} | {row['token_agreement']:.2f} | {export} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.caption_compare", description=argparse.SUPPRESS)
    for name in ("--shape", "--runtime", "--dtype", "--exports", "--out", "--vocab"):
        parser.add_argument(name, default=None)
    for name in ("--batch", "--calls", "--new-tokens", "--threads"):
        parser.add_argument(name, type=int, default=0)
    args = parser.parse_args(argv)
    from benchmarks import caption_shapes

    caption_shapes.VOCAB[0] = args.vocab
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    row = child(args.shape, args.runtime, args.dtype, args.batch, args.calls, args.new_tokens, args.threads,
                Path(args.exports), Path(args.out) if args.out else None)
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does the text encoder's memory grow as it encodes? RSS and peak per chunk, nothing else kept.

    python -m benchmarks.encoder_memory [--chunks 8] [--chunk-rows 512]
    python -m benchmarks.encoder_memory --pad-multiple 0     # batches padded to their longest text only
    MALLOC_MMAP_THRESHOLD_=131072 python -m benchmarks.encoder_memory --pad-multiple 0   # glibc never reuses big blocks

Encodes --chunks chunks of descriptions recombined from the seed's real captions (as benchmarks.embed)
with all-MiniLM-L6-v2 in one process, keeping no vectors, and prints after each chunk the resident set
size, the chunk's own peak (VmHWM, reset before each chunk), and the descriptions per second.
--pad-multiple sets the encoder's padding (default: its own, imagesearch.encoder.PAD_TO_MULTIPLE_OF).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time

from benchmarks.embed import SEED_CSV, seed_sentences
from benchmarks.search import memory_mb


def reset_peak() -> None:
    """Start VmHWM (the peak RSS) again from the current RSS (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.encoder_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-rows", type=int, default=512)
    parser.add_argument("--pad-multiple", type=int, default=None, metavar="N",
                        help="pad each batch to a multiple of N tokens; 0: to its longest text only")
    args = parser.parse_args(argv)
    from imagesearch.models.encoder import MINILM, TextEncoder

    sentences, per_text = seed_sentences(SEED_CSV)
    rng = random.Random(0)
    encoder = TextEncoder.load(MINILM)
    if args.pad_multiple is not None:
        encoder.pad_to_multiple_of = args.pad_multiple or None
    after, peaks, rates = [], [], []
    for _ in range(args.chunks):
        texts = [" ".join(rng.sample(sentences, per_text)) for _ in range(args.chunk_rows)]
        reset_peak()
        started = time.perf_counter()
        encoder.encode(texts, batch_size=32)
        rates.append(len(texts) / (time.perf_counter() - started))
        peaks.append(round(memory_mb(os.getpid())))
        after.append(round(memory_mb(os.getpid(), "VmRSS")))
    label = f"padded to a multiple of {encoder.pad_to_multiple_of}" if encoder.pad_to_multiple_of else "unpadded"
    print(f"{label}: RSS MB after each {args.chunk_rows:,}-text chunk: {after}")
    print(f"{label}: peak RSS MB within each chunk: {peaks}")
    print(f"{label}: descriptions/s median {statistics.median(rates):.1f} (min {min(rates):.1f}, max {max(rates):.1f}); "
          f"process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

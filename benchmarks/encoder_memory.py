"""Does the text encoder's own memory grow as it encodes? RSS after each chunk, nothing else kept.

    python -m benchmarks.encoder_memory [--chunks 8] [--chunk-rows 1024]
    MALLOC_ARENA_MAX=2 python -m benchmarks.encoder_memory     # the same with glibc arenas capped

Encodes --chunks chunks of descriptions recombined from the seed's real captions (as benchmarks.embed)
with all-MiniLM-L6-v2 in one process, keeping no vectors, and prints the resident set size after each
chunk: growth here is the encoder's (torch, tokenizers, sentence-transformers), not the embed step's.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys

from benchmarks.embed import SEED_CSV, seed_sentences


def rss_mb() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 // 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.encoder_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-rows", type=int, default=1024)
    args = parser.parse_args(argv)
    from imagesearch.encoder import MINILM, TextEncoder

    sentences, per_text = seed_sentences(SEED_CSV)
    rng = random.Random(0)
    encoder = TextEncoder.load(MINILM)
    sizes = []
    for _ in range(args.chunks):
        encoder.encode([" ".join(rng.sample(sentences, per_text)) for _ in range(args.chunk_rows)], batch_size=32)
        sizes.append(rss_mb())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"RSS MB after each {args.chunk_rows:,}-text chunk: {sizes}; peak {peak}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

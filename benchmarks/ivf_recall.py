"""IVF recall as users meet it: stored vectors vs encoded query-like texts, up to 1,000,000 rows.

    python -m benchmarks.ivf_recall [--rows 100000,1000000] [--check-rows 5000] [--texts 500]

Encoding a million descriptions takes hours on this CPU, so the vectors are
composed: the seed's 147 real captions are split into sentences, each
sentence is encoded once with MiniLM, and each synthetic description is a
few sentences drawn at random (like benchmarks.embed's texts), its vector
the token-weighted mean of its sentences' vectors, normalised (what mean
pooling over the joined text approximates). ``--check-rows`` rows are also
encoded for real, and both recall curves are printed so the approximation
can be judged. The text queries are real MiniLM encodings of short phrases
drawn from the descriptions (build.indexing.query_texts, as the index step does).

For each size: the index step's own tuning (build_index with both kinds of
queries) and a sweep of nprobe with both recalls and the time per query on
one thread. Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time

import numpy as np

from benchmarks.embed import SEED_CSV, seed_sentences

log = logging.getLogger("benchmarks.ivf_recall")


def compose(sentence_vectors: np.ndarray, weights: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Rows = normalised token-weighted means of the picked sentences' vectors."""
    out = np.empty((len(picks), sentence_vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(picks), 65536):
        chunk = picks[start:start + 65536]
        w = weights[chunk][..., None]
        rows = (sentence_vectors[chunk] * w).sum(axis=1)
        out[start:start + len(chunk)] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def sweep(index, vectors: np.ndarray, query_ids: np.ndarray, texts: np.ndarray) -> list[tuple[int, float, float, float]]:
    from build.indexing.vector_index import measure_recall

    rows = []
    nprobe = 1
    while True:
        index.nprobe = nprobe
        recall = measure_recall(index, vectors, query_ids, texts)
        started = time.perf_counter()
        for row in texts[:200]:
            index.search(row.reshape(1, -1), 5)
        ms = (time.perf_counter() - started) / min(200, len(texts)) * 1000
        rows.append((nprobe, recall["stored"], recall["text"], ms))
        log.info("nprobe %d: stored %.4f text %.4f %.2f ms", nprobe, recall["stored"], recall["text"], ms)
        if min(recall["stored"], recall["text"]) >= 0.995 or nprobe >= index.nlist:
            return rows
        nprobe = min(index.nlist, nprobe * 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ivf_recall", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--check-rows", type=int, default=5000, help="rows also encoded for real (0: skip the check)")
    parser.add_argument("--texts", type=int, default=500, help="query-like texts encoded as queries")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if not SEED_CSV.is_file():
        print(f"{SEED_CSV} not found: the benchmark composes the seed's real captions", file=sys.stderr)
        return 2
    import faiss

    from build.indexing.query_texts import query_like_texts
    from build.indexing.vector_index import IndexSpec, default_nlist, measure_recall
    from build.indexing.builder import build_index
    from imagesearch.models.encoder import MINILM, TextEncoder
    from imagesearch.store.records import Record

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    sentences, per_text = seed_sentences(SEED_CSV)
    encoder = TextEncoder.load(MINILM)
    sentence_vectors = encoder.encode(sentences, batch_size=64)
    weights = np.array([len(encoder.model.tokenizer(s)["input_ids"]) for s in sentences], dtype=np.float32)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, faiss {faiss.__version__}; {MINILM}; "
          f"{len(sentences)} seed sentences, {per_text} per description; {args.texts} query-like texts")

    def rows_of(n: int, seed: int) -> tuple[np.ndarray, list[Record]]:
        rng = np.random.default_rng(seed)
        picks = np.stack([rng.choice(len(sentences), per_text, replace=False) for _ in range(min(n, 20000))])
        if n > len(picks):  # draws repeat the sentence sets' shapes; every row is still a fresh combination
            picks = np.concatenate([picks, rng.integers(0, len(sentences), size=(n - len(picks), per_text))])
        sample = [Record(i, "seed-like", str(i), "", "images/0.jpg", " ".join(sentences[j] for j in picks[i]))
                  for i in range(min(n, 20000))]
        return picks, sample

    if args.check_rows:
        picks, sample = rows_of(args.check_rows, 1)
        texts = encoder.encode(query_like_texts(sample, args.texts, seed=1), batch_size=64)
        real = encoder.encode([r.description for r in sample], batch_size=32)
        composed = compose(sentence_vectors, weights, picks)
        print(f"\nCheck at {args.check_rows:,} rows (nlist {default_nlist(args.check_rows)}): the same descriptions "
              "encoded for real vs composed. Cosine of each real/composed pair: median "
              f"{np.median((real * composed).sum(axis=1)):.3f}.")
        print("| nprobe | real: stored | real: text | composed: stored | composed: text |")
        print("|---|---|---|---|---|")
        curves = []
        for vectors in (real, composed):
            built = build_index(vectors, IndexSpec("ivf", nprobe=1))
            ids = np.random.default_rng(0).choice(len(vectors), 1000, replace=False)
            curve = {}
            for nprobe in (1, 2, 4, 8, 16, 32):
                built.index.nprobe = nprobe
                curve[nprobe] = measure_recall(built.index, vectors, ids, texts)
            curves.append(curve)
        for nprobe in curves[0]:
            a, b = curves[0][nprobe], curves[1][nprobe]
            print(f"| {nprobe} | {a['stored']:.3f} | {a['text']:.3f} | {b['stored']:.3f} | {b['text']:.3f} |")

    for n in (int(r) for r in args.rows.split(",")):
        picks, sample = rows_of(n, n)
        texts = encoder.encode(query_like_texts(sample, args.texts, seed=2), batch_size=64)
        vectors = compose(sentence_vectors, weights, picks)
        del picks
        started = time.perf_counter()
        built = build_index(vectors, IndexSpec("ivf"), text_queries=texts)
        seconds = time.perf_counter() - started
        info = built.info
        faiss.omp_set_num_threads(1)
        ids = np.random.default_rng(0).choice(n, 1000, replace=False)
        table = sweep(built.index, vectors, ids, texts)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        first_stored = next((p for p, s, _, _ in table if s >= 0.99), None)
        print(f"\n{n:,} rows, IVF nlist {info['params']['nlist']}: build + tuning {seconds:.0f} s. The index step picks "
              f"nprobe {info['params']['nprobe']} (recall@5 kept in the manifest {info['recall_at_5']}: stored "
              f"{info['recall_at_5_stored']}, texts {info['recall_at_5_text']}); tuned on stored vectors alone it "
              f"would stop at nprobe {first_stored}.")
        print("| nprobe | recall@5, stored vectors as queries | recall@5, query-like texts | ms/query (1 thread) |")
        print("|---|---|---|---|")
        for nprobe, stored, text, ms in table:
            print(f"| {nprobe} | {stored:.3f} | {text:.3f} | {ms:.2f} |")
        del vectors, built
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate step: how good is the search, per mode, and which lexical weight hybrid search should use.

Queries come from (a) a TSV of ``query<TAB>relevant ids`` (ids separated by spaces or commas; blank
lines and lines starting with # are skipped) and (b), for a set whose rows carry labels, one query per
label, "a photo of a {label}", whose relevant rows are those with that label. Every query is searched
through the app's own SearchEngine in each mode; recall@1/5/10, MRR@10 and nDCG@10 are averaged per
query set (build/indexing/metrics.py).

The lexical weight is swept over 0, 0.1, ..., 1 and chosen by build/indexing/weight_choice.py: the best mean nDCG@10
over the query sets among the weights where hybrid is no worse than dense on any set; the hybrid figures
reported beside the in-sample ones are cross-validated (each query scored at a weight chosen without it).
The weight is written to the manifest (lexical.weight) with the figures (evaluation), and the app uses it
from the next start.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from imagesearch.errors import ArtifactError, ConfigError, build_command
from imagesearch.serve.request import MODES, clean_query
from imagesearch.serve.search import SearchEngine
from imagesearch.store import manifest as mf
from imagesearch.store.artifacts import ArtifactSet, load_artifact_set

from build.indexing.band_check import band_agreement, band_lines
from build.step import Env, Step, add_artifacts, add_device
from build.messages import warnings_once
from build.indexing.metrics import METRICS, mean_metrics, query_metrics
from build.indexing.null_queries import nonsense_queries
from build.indexing.weight_choice import FOLDS, chosen_weight, held_out

log = logging.getLogger(__name__)

CUTOFF = 10
WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(11))  # the lexical weights tried


@dataclass(frozen=True)
class EvaluateConfig:
    artifacts: Path
    queries: tuple[Path, ...] = ()
    modes: tuple[str, ...] = MODES
    label_queries: bool = True
    write: bool = True
    device: str | None = None
    offline: bool = False


@dataclass(frozen=True)
class QuerySet:
    name: str
    queries: tuple[tuple[str, frozenset[int]], ...]


def read_query_file(path: Path, known_ids: set[int]) -> QuerySet:
    """Parse a ``query<TAB>relevant ids`` file; every problem is one line naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"--queries {path}: file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--queries {path}: not UTF-8 text") from None
    queries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        query, tab, ids = line.partition("\t")
        if not tab or not query.strip():
            raise ConfigError(f"{path.name} line {number}: expected `query<TAB>relevant ids`, got {line[:60]!r}")
        try:
            relevant = frozenset(int(part) for part in re.split(r"[\s,]+", ids.strip()) if part)
        except ValueError:
            raise ConfigError(f"{path.name} line {number}: relevant ids must be integers, got {ids.strip()[:40]!r}") from None
        unknown = sorted(relevant - known_ids)
        if not relevant or unknown:
            problem = f"id {unknown[0]} is not in the set" if unknown else "no relevant ids"
            raise ConfigError(f"{path.name} line {number}: {problem} (ids are description.csv's id column)")
        queries.append((query.strip(), relevant))
    if not queries:
        raise ConfigError(f"--queries {path}: no queries in it")
    return QuerySet(path.stem, tuple(queries))


def label_query_set(artifacts: ArtifactSet) -> QuerySet | None:
    """One query per label ("a photo of a beagle"), relevant = the rows carrying that label."""
    if not artifacts.labels:
        return None
    queries = []
    for label in artifacts.labels:
        rows = artifacts.label_rows[label]
        queries.append((f"a photo of a {label.replace('_', ' ')}", frozenset(artifacts.records[r].id for r in rows)))
    return QuerySet("labels", tuple(queries))


def _encoder(artifacts: ArtifactSet, config: EvaluateConfig) -> Callable[[list[str]], np.ndarray]:
    from imagesearch.models.encoder import OFFLINE_EMBEDDER, check_probe, load_encoder
    from imagesearch.models.model_source import require_model

    embedding = artifacts.manifest["embedding"]
    require_model(embedding["model"], f"{mf.MANIFEST} embedding.model", config.offline, OFFLINE_EMBEDDER)
    encoder = load_encoder(embedding["model"], config.device)
    check_probe(encoder, embedding)
    return lambda texts: encoder.encode(texts, batch_size=64)


def _ranked(engine: SearchEngine, query: str, mode: str) -> list[int]:
    return [r.id for r in engine.search(query, CUTOFF, mode=mode)]


def _per_query(engine: SearchEngine, query_set: QuerySet, mode: str) -> list[dict[str, float]]:
    return [query_metrics(_ranked(engine, q, mode), set(rel)) for q, rel in query_set.queries]


def markdown(evaluation: dict[str, Any]) -> str:
    lines = ["| query set | queries | mode | " + " | ".join(METRICS) + " |", "|---|---|---|" + "---|" * len(METRICS)]
    for name, entry in evaluation["sets"].items():
        for mode, values in entry["modes"].items():
            shown = {"hybrid": f"hybrid (w {evaluation.get('weight')})",
                     "hybrid_held_out": f"hybrid, held out ({FOLDS}-fold)"}.get(mode, mode)
            lines.append(f"| {name} | {entry['queries']} | {shown} | " + " | ".join(f"{values[m]:.3f}" for m in METRICS) + " |")
    if evaluation.get("weights"):
        names = list(evaluation["sets"])
        lines += ["", "| lexical weight | " + " | ".join(f"nDCG@10 {n}" for n in names) + " |", "|---|" + "---|" * len(names)]
        for weight, sets in evaluation["weights"].items():
            mark = " (kept)" if float(weight) == evaluation["weight"] else ""
            lines.append(f"| {weight}{mark} | " + " | ".join(f"{sets[n]['ndcg@10']:.3f}" for n in names) + " |")
    if evaluation.get("fold_weights"):
        lines += ["", f"Weights chosen without each fold (held-out rows): {', '.join(map(str, evaluation['fold_weights']))}"]
    return "\n".join(lines)


def run_evaluate(config: EvaluateConfig, encode: Callable[[list[str]], np.ndarray] | None = None) -> dict[str, Any]:
    folder = Path(config.artifacts)
    artifacts = load_artifact_set(folder)
    modes = tuple(m for m in config.modes if m in MODES)
    if artifacts.lexical is None and set(modes) - {"dense"}:
        raise ArtifactError(f"{folder}: no lexical index; rebuild it with {build_command(f'index --artifacts {folder}')} "
                            "or evaluate with --mode dense")
    sets: list[QuerySet] = []
    known = {r.id for r in artifacts.records}
    for path in config.queries:
        query_set = read_query_file(path, known)
        taken = {s.name for s in sets}
        sets.append(query_set if query_set.name not in taken else QuerySet(f"{query_set.name}-{len(sets)}", query_set.queries))
    labelled = label_query_set(artifacts) if config.label_queries else None
    if labelled:
        sets.append(labelled)
    if not sets:
        raise ConfigError(f"{folder}: nothing to evaluate: its rows have no labels; give --queries FILE.tsv "
                          "(query<TAB>relevant ids)")
    nonsense = nonsense_queries() if artifacts.manifest.get("score_bands") else []  # bands to check: made-up words
    texts = sorted({clean_query(q) for s in sets for q, _ in s.queries} | set(nonsense))
    with warnings_once():
        vectors = (encode or _encoder(artifacts, config))(texts)
    by_text = dict(zip(texts, np.asarray(vectors, dtype=np.float32)))
    engine = SearchEngine(artifacts, by_text.__getitem__)
    log.info("evaluating %s on %s", ", ".join(modes), ", ".join(f"{s.name} ({len(s.queries)} queries)" for s in sets))
    evaluation: dict[str, Any] = {"created_at": mf.now_iso(), "cutoff": CUTOFF,
                                  "sets": {s.name: {"queries": len(s.queries), "modes": {}} for s in sets}}
    for mode in (m for m in modes if m != "hybrid"):
        for s in sets:
            evaluation["sets"][s.name]["modes"][mode] = mean_metrics(_per_query(engine, s, mode))
    if "hybrid" in modes:
        dense = {s.name: _per_query(engine, s, "dense") for s in sets}
        per_weight = {}
        for weight in WEIGHT_GRID:
            engine.lexical_weight = weight
            per_weight[weight] = {s.name: _per_query(engine, s, "hybrid") for s in sets}
        chosen = chosen_weight(per_weight, dense)
        held, fold_weights = held_out(per_weight, dense)
        for s in sets:
            evaluation["sets"][s.name]["modes"]["hybrid"] = mean_metrics(per_weight[chosen][s.name])
            evaluation["sets"][s.name]["modes"]["hybrid_held_out"] = held[s.name]
        evaluation["weight"] = chosen
        evaluation["fold_weights"] = fold_weights
        evaluation["weights"] = {str(w): {n: {"ndcg@10": mean_metrics(v)["ndcg@10"]} for n, v in sets_.items()}
                                 for w, sets_ in per_weight.items()}
    engine.lexical_weight = evaluation.get("weight", engine.lexical_weight)  # the bands as the app will show them
    evaluation["bands"] = band_agreement(engine, [q for s in sets for q in s.queries], nonsense)
    if config.write:
        manifest = dict(artifacts.manifest, evaluation=evaluation)
        if "weight" in evaluation:
            manifest["lexical"] = dict(manifest["lexical"], weight=evaluation["weight"],
                                       weight_source=f"evaluate ({', '.join(s.name for s in sets)}; best mean nDCG@10, "
                                                     f"never below dense; {FOLDS}-fold held-out figures in evaluation)")
        mf.rewrite_manifest(folder, manifest)
    print(markdown(evaluation))
    print("\n".join(band_lines(evaluation["bands"])))
    where = f"written to {folder / mf.MANIFEST}" if config.write else "not written (--no-write)"
    weight = f"; lexical weight {evaluation['weight']}" if "weight" in evaluation else ""
    print(f"evaluated {sum(len(s.queries) for s in sets)} queries{weight}; figures {where}")
    return evaluation


def _arguments(parser) -> None:
    add_artifacts(parser)
    parser.add_argument("--queries", type=Path, action="append", default=[], metavar="TSV",
                        help="query<TAB>relevant ids per line (ids: description.csv's id column); repeat for more sets")
    parser.add_argument("--mode", default="hybrid,dense,lexical",
                        help="comma-separated modes to measure (default all three; hybrid also picks the lexical weight)")
    parser.add_argument("--no-labels", action="store_true", help="skip the label-derived queries")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave the manifest as it is")
    add_device(parser)


def _run(args, env: Env) -> None:
    modes = tuple(m.strip() for m in args.mode.split(",") if m.strip())
    if not modes or set(modes) - set(MODES):
        raise ConfigError(f"--mode {args.mode!r}: choose among {', '.join(MODES)} (comma-separated)")
    run_evaluate(EvaluateConfig(args.artifacts, tuple(args.queries), modes, not args.no_labels, not args.no_write,
                                args.device, env.offline))


STEP = Step("evaluate", "measure search quality per mode; pick the lexical weight",
            "Recall@1/5/10, MRR@10 and nDCG@10 of dense, lexical and hybrid search on a query file and on "
            "label-derived queries; writes the figures and the lexical weight into the manifest and a Markdown "
            "table on stdout.", _arguments, _run)

"""Which lexical weight hybrid search uses, chosen on queries it is then not scored on.

Every query's metrics are measured once per weight of WEIGHT_GRID (and in dense mode). The rule that picks a
weight from a group of queries: the best mean nDCG@10 over the query sets, among the weights where hybrid is
no worse than dense on any set (0 is dense itself, so one always qualifies; ties go to the smaller weight).

The weight kept is the rule applied to every query. The figures reported for it are cross-validated: the
queries of each set are dealt into FOLDS folds (query i into fold i mod FOLDS), each fold's queries are scored
with the weight the rule picks from the other folds, and those held-out scores are averaged, so no query
helps choose the weight it is scored with.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from build.indexing.metrics import mean_metrics

FOLDS = 5
PerQuery = Mapping[str, Sequence[Mapping[str, float]]]  # query set name -> each query's metrics


def choose_weight(by_weight: Mapping[float, Mapping[str, Mapping[str, float]]],
                  dense: Mapping[str, Mapping[str, float]]) -> float:
    """Best mean nDCG@10 over the query sets, never below dense on any set; ties to the smaller weight."""
    allowed = [w for w, sets in by_weight.items()
               if all(sets[name]["ndcg@10"] >= dense[name]["ndcg@10"] - 1e-9 for name in sets)]
    return max(sorted(allowed), key=lambda w: (round(float(np.mean([s["ndcg@10"] for s in by_weight[w].values()])), 6), -w))


def _choose_on(per_weight: Mapping[float, PerQuery], dense: PerQuery, keep: Mapping[str, Sequence[bool]]) -> float:
    """The rule applied to the queries ``keep`` marks, set by set."""
    def means(per_query: PerQuery) -> dict[str, dict[str, float]]:
        return {name: mean_metrics([m for m, kept in zip(rows, keep[name]) if kept]) for name, rows in per_query.items()
                if any(keep[name])}

    return choose_weight({w: means(sets) for w, sets in per_weight.items()}, means(dense))


def folds_of(per_query: PerQuery) -> dict[str, list[int]]:
    return {name: [i % FOLDS for i in range(len(rows))] for name, rows in per_query.items()}


def held_out(per_weight: Mapping[float, PerQuery], dense: PerQuery) -> tuple[dict[str, dict[str, float]], list[float]]:
    """Each set's hybrid figures with every query scored at a weight chosen without it, and the weight per fold."""
    folds = folds_of(dense)
    chosen = []
    scored: dict[str, list[Mapping[str, float]]] = {name: [] for name in dense}
    for fold in range(FOLDS):
        if not any(fold in f for f in folds.values()):
            continue
        weight = _choose_on(per_weight, dense, {name: [f != fold for f in fs] for name, fs in folds.items()})
        chosen.append(weight)
        for name, fs in folds.items():
            scored[name] += [per_weight[weight][name][i] for i, f in enumerate(fs) if f == fold]
    return {name: mean_metrics(rows) for name, rows in scored.items()}, chosen


def chosen_weight(per_weight: Mapping[float, PerQuery], dense: PerQuery) -> float:
    """The rule applied to every query: the weight the app will use."""
    return _choose_on(per_weight, dense, {name: [True] * len(rows) for name, rows in dense.items()})

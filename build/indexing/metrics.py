"""Ranking metrics for the evaluation, on one query's ranked ids and its set of relevant ids.

recall@k is capped: relevant ids found in the top k over min(k, number relevant), so a query with more
relevant rows than k can still reach 1.0 (plain recall@1 of a query with 40 relevant rows could not
exceed 0.025). MRR@10 is 1 / the rank of the first relevant id in the top 10 (0 if none); nDCG@10 uses
binary gains, its ideal ranking putting min(10, number relevant) relevant ids first.
"""

from __future__ import annotations

import math
from typing import Sequence

CUTOFFS = (1, 5, 10)
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def recall_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        raise ValueError("a query needs at least one relevant id")
    return len(set(ranked[:k]) & relevant) / min(k, len(relevant))


def mrr_at(ranked: Sequence[int], relevant: set[int], k: int = 10) -> float:
    for position, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return 1.0 / position
    return 0.0


def ndcg_at(ranked: Sequence[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(position + 1) for position, item in enumerate(ranked[:k], start=1) if item in relevant)
    ideal = sum(1.0 / math.log2(position + 1) for position in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def query_metrics(ranked: Sequence[int], relevant: set[int]) -> dict[str, float]:
    values = {f"recall@{k}": recall_at(ranked, relevant, k) for k in CUTOFFS}
    values["mrr@10"] = mrr_at(ranked, relevant)
    values["ndcg@10"] = ndcg_at(ranked, relevant)
    return values


def mean_metrics(per_query: Sequence[dict[str, float]]) -> dict[str, float]:
    return {name: round(sum(q[name] for q in per_query) / len(per_query), 4) for name in METRICS}

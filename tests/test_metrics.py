"""Retrieval metrics computed by hand: recall@k (capped), MRR@10, nDCG@10."""

import math

import pytest

from build.indexing.metrics import mrr_at, ndcg_at, query_metrics, recall_at


def test_metrics_of_one_ranking_match_the_hand_computed_values():
    ranked, relevant = [3, 1, 2, 7], {1, 2}
    assert recall_at(ranked, relevant, 1) == 0.0
    assert recall_at(ranked, relevant, 5) == 1.0  # capped: 2 of min(5, 2)
    assert recall_at([3, 1], {1, 2, 9, 10, 11, 12}, 1) == 0.0 and recall_at([1], {1, 2, 9}, 1) == 1.0
    assert mrr_at(ranked, relevant) == 0.5 and mrr_at([4, 5], relevant) == 0.0
    assert ndcg_at(ranked, relevant) == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert query_metrics([1, 2], relevant)["ndcg@10"] == pytest.approx(1.0)

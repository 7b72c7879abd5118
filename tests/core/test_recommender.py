"""Recommending from any scorer: history excluded, only finite scores."""

from __future__ import annotations

import math

import torch

from recgraft.data.domain import Vocabulary
from recgraft.recommender import recommend_items


def test_items_without_a_finite_score_are_never_recommended() -> None:
    items = Vocabulary.from_tokens(["a", "b", "c", "d", "e"])
    raw = torch.tensor([[0.0, float("nan"), 0.5, float("inf"), 0.2, -0.1]])
    top = recommend_items(lambda histories: raw, items, 4, ["e"], k=10)
    assert [item for item, _ in top] == ["b", "d"]  # not a (NaN), c (inf), e (history)
    assert all(math.isfinite(score) for _, score in top)

"""The paired comparison of two benchmark runs over users, shared by the transfer benchmarks.

A run's row keeps each evaluated user's test NDCG@10 (``test_ndcg_per_user``, in user order,
from ``evaluate(..., per_user=True)``); two runs' rows are compared on the seeds both have,
each side's per-user values averaged over those seeds, by the paired bootstrap over users.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recgraft.engine.metrics import PairedComparison, paired_bootstrap


def per_user_ndcg(result: dict[str, Any]) -> list[float]:
    """A row's ``test_ndcg_per_user`` from an ``evaluate(..., per_user=True)`` result."""
    return [round(value, 5) for value in result["per_user"]["ndcg@10"]]


def compare_runs(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> PairedComparison | None:
    """The paired bootstrap of the seed-averaged per-user test NDCG@10 of ``ours`` against
    ``theirs`` (None when they share no seed or a row lacks per-user values)."""
    seeds = sorted({r["seed"] for r in ours} & {r["seed"] for r in theirs})
    if not seeds or any("test_ndcg_per_user" not in r for r in ours + theirs):
        return None

    def per_user(rows: list[dict[str, Any]]) -> np.ndarray:
        return np.mean([r["test_ndcg_per_user"] for r in rows if r["seed"] in seeds], axis=0)

    return paired_bootstrap(per_user(ours), per_user(theirs))


def interval_text(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    """``+4.8% to +38.5%``: the 95% interval of the relative gain, or ``-`` where there is none."""
    result = compare_runs(ours, theirs)
    if result is None or result.low is None or result.high is None:
        return "-"
    return f"{result.low:+.1%} to {result.high:+.1%}"

"""The scratch baseline and the gain over it: what a transfer is measured against.

The baseline is the ``scratch`` strategy on the same transfer: the same architecture,
extractor and head from a random start, trained on the same split with the same seed and
settings (and the strategy's item-bias choice), so the gain is what the pretrained weights
bring. A negative gain is called what it is: negative transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recgraft.engine.progress import Progress
from recgraft.transfer.pipeline import TransferResult

#: The metrics a gain is reported on first.
HEADLINE = ("ndcg@10", "hr@10")
RANKING_METRICS = ("hr", "ndcg", "mrr")


def gain(value: float, baseline: float) -> float | None:
    """``(value - baseline) / baseline``; None where the baseline is 0."""
    return None if baseline == 0 else (float(value) - float(baseline)) / float(baseline)


def relative_gain(metrics: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, float | None]:
    """The gain per ranking metric (HR, NDCG, MRR at every cut-off), rounded to 4 places."""
    gains: dict[str, float | None] = {}
    for key, value in metrics.items():
        if key.split("@")[0] not in RANKING_METRICS or key not in baseline:
            continue
        relative = gain(value, baseline[key])
        gains[key] = None if relative is None else round(relative, 4)
    return gains


@dataclass
class ScratchComparison:
    """A transfer's test metrics against its scratch baseline's."""

    baseline: TransferResult
    test: dict[str, Any]  # the transfer's test metrics
    baseline_test: dict[str, Any]
    gain: dict[str, float | None]

    @property
    def negative(self) -> list[str]:
        """The headline metrics on which the transfer is worse than scratch (negative transfer)."""
        return [key for key in HEADLINE if (self.gain.get(key) or 0) < 0]


def compare_with_scratch(result: TransferResult, progress: Progress | None = None) -> ScratchComparison:
    """Train ``result``'s scratch baseline and compare the two on test."""
    graft = result.transfer
    item_bias = getattr(graft.strategy.config, "item_bias", True)
    baseline = graft.with_strategy("scratch", {"item_bias": item_bias}).fit(
        result.split, result.train_config, device=result.device, progress=progress or False)
    test = result.evaluations.get("test") or result.evaluate("test")
    baseline_test = baseline.evaluate("test")
    return ScratchComparison(baseline, test, baseline_test, relative_gain(test, baseline_test))

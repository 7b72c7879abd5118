"""Evaluation metrics: full-ranking next-item metrics, sampled ranking, binary metrics.

Next-item protocol (RecBole's sequential one): score every item for each user, mask what the
user already had before the stage with ``mask_history`` (history items and the pad column
0 become -inf, the held-out items are left alone), take each held-out item's rank with
``target_ranks`` (one per user) or ``held_out_ranks`` (a set per user), and accumulate
Hit/Recall/Precision/NDCG/MRR@K in ``RankingMetrics``. Ties are pessimistic: every other item
scoring at least as high as a held-out item ranks ahead of it (other held-out items
included), so a constant model gets no credit. A NaN score ranks last (a NaN target behind
every item), so a diverged model scores 0, never 1; every metric stays in [0, 1]. Users
without a held-out item are simply not added.

With a set T of held-out items per user and 0-based ranks r: Hit@K (``hr@K``) is 1 when any
r < K; Recall@K is #(r < K) / |T|; Precision@K is #(r < K) / K; NDCG@K is the sum of
1 / log2(r + 2) over r < K divided by the ideal sum of 1 / log2(i + 2) over i < min(K, |T|);
MRR@K is 1 / (min r + 1) when min r < K. With one held-out item per user these are HR,
HR, HR / K, the usual NDCG and MRR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

KS: tuple[int, ...] = (5, 10, 20)
Bucket = tuple[int, int | None]
BUCKETS: tuple[Bucket, ...] = ((1, 5), (6, 20), (21, 50), (51, None))


def nan_last(scores: Tensor) -> Tensor:
    """``scores`` with NaN as -inf: a NaN ranks behind (or, pessimistically, ties with) every item."""
    return scores.masked_fill(scores.isnan(), float("-inf"))


def target_ranks(scores: Tensor, targets: Tensor) -> Tensor:
    """0-based rank of each target among all items, ties pessimistic, NaN last.

    Args:
        scores: (B, I) item scores; excluded items (history, pad) already set to -inf.
        targets: (B,) target item ids.

    Returns:
        (B,) int64: how many other items score >= the target (a NaN target: every other item).
    """
    scores = nan_last(scores)
    target_scores = scores.gather(1, targets.long().view(-1, 1))  # (B, 1)
    return (scores >= target_scores).sum(dim=1) - 1


def exclude_items(scores: Tensor, items: Tensor, *, rows: Tensor | None = None, inplace: bool = False) -> Tensor:
    """Set the scores of ``items`` and of the pad column 0 to -inf.

    ``items`` is (B, L), 0-padded, one row per user; or, with ``rows``, a flat (N,) list of
    items whose user rows ``rows`` (N,) gives (no padding needed for ragged histories).
    """
    out = scores if inplace else scores.clone()
    if rows is not None:
        out[rows, items.long()] = float("-inf")
    elif items.numel():
        out.scatter_(1, items.long(), float("-inf"))
    out[:, 0] = float("-inf")
    return out


def mask_history(
    scores: Tensor, history: Tensor, targets: Tensor, *, rows: Tensor | None = None, inplace: bool = False
) -> Tensor:
    """Exclude each user's ``history`` (as ``exclude_items`` takes it) and the pad item; the
    targets keep their scores.

    ``targets`` is (B,), one per user, or (B, T), a 0-padded set per user (the pad stays excluded).
    """
    idx = targets.long().view(-1, 1) if targets.dim() == 1 else targets.long()
    kept = scores.gather(1, idx)  # (B, 1) or (B, T)
    out = exclude_items(scores, history, rows=rows, inplace=inplace)
    out.scatter_(1, idx, kept)
    if targets.dim() > 1:
        out[:, 0] = float("-inf")
    return out


def held_out_ranks(scores: Tensor, targets: Tensor) -> Tensor:
    """0-based rank of each user's held-out items among all items, ties pessimistic, NaN last.

    Args:
        scores: (B, I) item scores; excluded items (history, pad) already set to -inf.
        targets: (B, T) held-out item ids per user, 0-padded.

    Returns:
        (B, T) int64: for each held-out item, how many other items (other held-out items
        included) score >= it, as :func:`target_ranks`; -1 where ``targets`` is padding.
    """
    targets = targets.long()
    if targets.shape[1] == 1:
        ranks = target_ranks(scores, targets[:, 0]).view(-1, 1)
    else:
        scores = nan_last(scores)
        if scores.device.type == "cpu":  # numpy's row sort is about 8 times torch's on a CPU
            ascending = torch.from_numpy(np.sort(scores.detach().numpy(), axis=1))
        else:
            ascending = scores.sort(dim=1).values
        target_scores = scores.gather(1, targets).contiguous()
        at_least = scores.shape[1] - torch.searchsorted(ascending, target_scores, side="left")
        ranks = at_least - 1
    return ranks.masked_fill(targets == 0, -1)


def per_user_metrics(ranks: Tensor, k: int) -> dict[str, Tensor]:
    """Hit, Recall, Precision, NDCG and MRR at ``k`` of each user (float64, (B,)).

    ``ranks`` is (B,), one target per user, or (B, T), each user's held-out ranks padded with
    -1; every row needs at least one rank (see the module docstring for the formulas).
    """
    ranks = ranks.detach().to(torch.float64)
    if ranks.dim() == 1:
        ranks = ranks.view(-1, 1)
    present = ranks >= 0
    relevant = present.sum(dim=1)
    hits = present & (ranks < k)
    found = hits.sum(dim=1).to(torch.float64)
    gains = torch.where(hits, 1.0 / torch.log2(ranks.clamp(min=0) + 2.0), 0.0).sum(dim=1)
    counted = relevant.clamp(min=1, max=k)  # the ideal ranking's hits: min(k, |T|)
    width = int(counted.max()) if len(counted) else 1
    positions = torch.arange(width, dtype=torch.float64, device=ranks.device)
    ideal = torch.cumsum(1.0 / torch.log2(positions + 2.0), dim=0)[counted - 1]
    best = torch.where(present, ranks, torch.inf).min(dim=1).values
    first = best < k
    return {
        "hr": first.to(torch.float64),
        "recall": found / relevant.clamp(min=1),
        "precision": found / k,
        "ndcg": gains / ideal,
        "mrr": torch.where(first, 1.0 / (best + 1.0), 0.0),
    }


METRICS: tuple[str, ...] = ("hr", "ndcg", "mrr", "recall", "precision")


class RankingMetrics:
    """Accumulates Hit@K (``hr``), Recall@K, Precision@K, NDCG@K and MRR@K over users.

    ``add`` takes the 0-based ranks of a batch of users: (B,), one target each (a negative
    or NaN rank is a ValueError: it would score above 1), or (B, T), each user's held-out
    ranks padded with -1 (a row of padding only, a user without held-out items, is not
    added). With no user added, every metric is 0.0 and ``users`` is 0.
    """

    def __init__(self, ks: Sequence[int] = KS) -> None:
        self.ks = tuple(ks)
        self.users = 0
        self.sums: dict[str, float] = {f"{m}@{k}": 0.0 for k in self.ks for m in METRICS}

    def add(self, ranks: Tensor) -> None:
        ranks = ranks.detach()
        if ranks.dim() > 1:
            ranks = ranks.reshape(ranks.shape[0], -1).to(torch.float64)
            if bool((ranks.isnan() | (ranks < -1)).any()):
                raise ValueError("held-out ranks must be 0 or more (0 = first), -1 for padding")
            ranks = ranks[(ranks >= 0).any(dim=1)]
        else:
            ranks = ranks.reshape(-1).to(torch.float64)
            if bool((ranks.isnan() | (ranks < 0)).any()):
                raise ValueError("target ranks must be 0 or more (0 = first)")
        self.users += int(ranks.shape[0])
        if ranks.shape[0] == 0:
            return
        for k in self.ks:
            for name, values in per_user_metrics(ranks, k).items():
                self.sums[f"{name}@{k}"] += float(values.sum())

    def merge(self, other: RankingMetrics) -> None:
        """Add another accumulator's users (e.g. from another process)."""
        self.users += other.users
        for key, value in other.sums.items():
            self.sums[key] = self.sums.get(key, 0.0) + value

    def result(self) -> dict[str, float]:
        out: dict[str, float] = {}
        n = max(self.users, 1)
        for k in self.ks:
            for m in METRICS:
                out[f"{m}@{k}"] = self.sums.get(f"{m}@{k}", 0.0) / n
        out["users"] = self.users
        return out


def _exclusion_mask(scores: Tensor, exclude: Tensor | None) -> Tensor:
    """(B, I) bool: items that may not be sampled (the pad, and ``exclude``: ids (B, L) or a mask)."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if exclude is not None:
        if exclude.dtype == torch.bool and exclude.shape == scores.shape:
            mask |= exclude
        elif exclude.numel():
            mask.scatter_(1, exclude.long(), True)
    mask[:, 0] = True
    return mask


def sampled_ranks(
    scores: Tensor,
    targets: Tensor,
    num_negatives: int,
    generator: torch.Generator | None = None,
    exclude: Tensor | None = None,
) -> Tensor:
    """0-based rank of each target among ``num_negatives`` sampled negatives (ties pessimistic).

    Negatives are drawn uniformly without replacement among the items that are neither the
    target, the pad, nor in ``exclude`` ((B, L) 0-padded ids, or a (B, I) bool mask). A row
    with fewer candidates uses all of them. NaN scores rank last, as in :func:`target_ranks`.
    """
    scores = nan_last(scores)
    idx = targets.long().view(-1, 1)
    blocked = _exclusion_mask(scores, exclude)
    blocked.scatter_(1, idx, True)
    weights = torch.rand(scores.shape, generator=generator, device=scores.device)
    weights = weights.masked_fill(blocked, -1.0)
    k = min(num_negatives, scores.shape[1])
    top, negatives = weights.topk(k, dim=1)  # (B, k)
    usable = top >= 0
    target_scores = scores.gather(1, idx)
    ahead = (scores.gather(1, negatives) >= target_scores) & usable
    return ahead.sum(dim=1)


def _as_numpy(values: Any) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().cpu().to(torch.float64).numpy().reshape(-1)
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _probabilities(values: Any) -> np.ndarray:
    """Predicted probabilities as float64, NaN as -inf: a NaN prediction is the least confident."""
    p = _as_numpy(values)
    return np.where(np.isnan(p), -np.inf, p)


def auc_score(probabilities: Any, labels: Any) -> float:
    """ROC AUC from ranks (ties get their average rank, NaN ranks last); nan when only one
    class is present."""
    p, y = _probabilities(probabilities), _as_numpy(labels) > 0.5
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct value
    rank_sum = float(average_rank[inverse][y].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def binary_metrics(probabilities: Any, labels: Any, threshold: float = 0.5) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1 (at ``threshold``) and AUC of binary predictions.

    Precision (recall) is 0.0 when nothing is predicted (labelled) positive; a NaN prediction
    is negative and ranks last. AUC is None when the labels hold a single class (it is
    undefined there), so every value is a number in [0, 1] or None, never NaN.
    """
    p, y = _probabilities(probabilities), _as_numpy(labels) > 0.5
    predicted = p >= threshold
    tp = float((predicted & y).sum())
    fp = float((predicted & ~y).sum())
    fn = float((~predicted & y).sum())
    n = len(y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float((predicted == y).sum()) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc": None if math.isnan(auc := auc_score(p, y)) else auc,
        "count": n,
    }


def bucket_label(bucket: Bucket) -> str:
    low, high = bucket
    if high is None:
        return f">{low - 1}"
    return f"{low}" if low == high else f"{low}-{high}"


def breakdown_by_history_length(
    ranks: Tensor | np.ndarray,
    lengths: Tensor | np.ndarray,
    buckets: Sequence[Bucket] = BUCKETS,
    k: int = 10,
) -> list[dict[str, Any]]:
    """HR@k and NDCG@k per bucket of training-history length (the cold-start view).

    Args:
        ranks: (U,) 0-based target ranks of evaluated users, or (U, T) their held-out
            ranks padded with -1 (per-user values as :func:`per_user_metrics`).
        lengths: (U,) those users' history lengths.
        buckets: inclusive (low, high) ranges, high None for open-ended; labels "1-5", ">50".

    Returns:
        one dict per bucket: ``bucket``, ``users``, ``hr@k``, ``ndcg@k`` (0.0 for an empty bucket).
    """
    n = _as_numpy(lengths)
    if ranks.ndim > 1:
        per_user = per_user_metrics(torch.as_tensor(ranks), k)
        hits, gains = per_user["hr"].numpy(), per_user["ndcg"].numpy()
    else:
        r = _as_numpy(ranks)
        hits, gains = (r < k).astype(np.float64), np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)
    out = []
    for bucket in buckets:
        low, high = bucket
        inside = (n >= low) & (n <= (np.inf if high is None else high))
        users = int(inside.sum())
        out.append(
            {
                "bucket": bucket_label(bucket),
                "users": users,
                f"hr@{k}": float(hits[inside].mean()) if users else 0.0,
                f"ndcg@{k}": float(gains[inside].mean()) if users else 0.0,
            }
        )
    return out


def breakdown_by_item_group(
    ranks: Tensor, targets: Tensor | np.ndarray, groups: Mapping[str, np.ndarray], k: int = 10
) -> list[dict[str, Any]]:
    """HR@k and NDCG@k on the held-out items of each item group (the cold-item view).

    Args:
        ranks: (U, T) held-out ranks padded with -1 (or (U,) one target each).
        targets: the held-out item ids in the same layout (0 where ``ranks`` pads).
        groups: name -> bool per item id (``(num_items + 1,)``), e.g. "unseen in training".

    A user counts in a group when one of its held-out items is in it; the metrics are over
    those items only. Returns one dict per group: ``items``, ``users``, ``hr@k``, ``ndcg@k``.
    """
    ranks = torch.as_tensor(ranks).reshape(ranks.shape[0], -1)
    items = torch.as_tensor(np.asarray(targets)).reshape(ranks.shape[0], -1).long()
    out = []
    for name, member in groups.items():
        inside = torch.from_numpy(np.asarray(member, dtype=bool))[items] & (ranks >= 0)
        kept = torch.where(inside, ranks, torch.full_like(ranks, -1))
        kept = kept[inside.any(dim=1)]
        users = int(kept.shape[0])
        metrics = per_user_metrics(kept.to(torch.float64), k) if users else {}
        out.append({"items": name, "users": users,
                    f"hr@{k}": float(metrics["hr"].mean()) if users else 0.0,
                    f"ndcg@{k}": float(metrics["ndcg"].mean()) if users else 0.0})
    return out


@dataclass(frozen=True)
class PairedComparison:
    """Two models' per-user metric compared on the same users: the relative gain of the means,
    and its 95% interval from a paired bootstrap over users."""

    ours: float
    theirs: float
    gain: float | None  # (ours - theirs) / theirs; None when theirs is 0
    low: float | None
    high: float | None
    users: int

    @property
    def significant(self) -> bool:
        """Whether the interval excludes no change."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired_bootstrap(ours: np.ndarray, theirs: np.ndarray, samples: int = 10_000, seed: int = 0) -> PairedComparison:
    """The relative gain of ``mean(ours)`` over ``mean(theirs)`` (per-user values of the same users,
    in the same order) with a 95% percentile interval: users are resampled with replacement,
    both models' values together, ``samples`` times (seeded)."""
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired_bootstrap needs two equal-length 1-D arrays, got {a.shape} and {b.shape}")
    base = float(b.mean())
    if base == 0:
        return PairedComparison(float(a.mean()), base, None, None, None, len(a))
    rng = np.random.default_rng(seed)
    gains = np.empty(samples)
    for start in range(0, samples, 1000):  # 1,000 resamples at a time bounds the memory
        draw = rng.integers(0, len(a), size=(min(1000, samples - start), len(a)))
        mine, others = a[draw].mean(1), b[draw].mean(1)
        gains[start:start + len(draw)] = np.where(others > 0, mine / np.where(others > 0, others, 1) - 1, np.nan)
    low, high = np.nanpercentile(gains, [2.5, 97.5])
    return PairedComparison(float(a.mean()), base, float(a.mean()) / base - 1, float(low), float(high), len(a))

"""Full-ranking evaluation of user vectors against the whole catalogue, batched on the device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from recgraft.batching import padded_histories
from recgraft.data.split import LeaveOneOutSplit
from recgraft.metrics import RankingMetrics, breakdown_by_history_length, mask_history, target_ranks

Stage = Literal["valid", "test"]
Scorer = Callable[[torch.Tensor], torch.Tensor]  # histories (B, L) -> scores (B, I + 1)


@torch.no_grad()
def rank_targets(
    scorer: Scorer,
    split: LeaveOneOutSplit,
    stage: Stage,
    max_length: int,
    device: torch.device,
    batch_size: int = 1024,
    users: np.ndarray | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """Rank each evaluated user's held-out item among all items, history excluded.

    Returns the users and their 0-based ranks (ties count against the target).
    """
    if users is None:
        users = split.evaluated_users(stage)
    history = split.history(stage)
    targets_all = torch.from_numpy(getattr(split, stage))
    ranks = []
    for start in range(0, len(users), batch_size):
        chunk = users[start : start + batch_size]
        inputs = padded_histories(history, chunk, max_length).to(device)
        # Exclusion uses the whole history, not only the encoder's window.
        full = padded_histories(history, chunk, int(history.lengths()[chunk].max(initial=1))).to(device)
        targets = targets_all[chunk].to(device)
        scores = scorer(inputs).float()
        scores = mask_history(scores, full, targets)
        ranks.append(target_ranks(scores, targets))
    return users, torch.cat(ranks).cpu() if ranks else torch.zeros(0, dtype=torch.long)


def evaluate(
    scorer: Scorer,
    split: LeaveOneOutSplit,
    stage: Stage,
    max_length: int,
    device: torch.device,
    batch_size: int = 1024,
    breakdown: bool = False,
) -> dict[str, object]:
    """HR, NDCG and MRR at 5, 10, 20 over the stage's users (and the history-length breakdown)."""
    users, ranks = rank_targets(scorer, split, stage, max_length, device, batch_size)
    metrics = RankingMetrics()
    metrics.add(ranks)
    result: dict[str, object] = dict(metrics.result())
    if breakdown:
        lengths = torch.from_numpy(split.history(stage).lengths()[users])
        result["by_history_length"] = breakdown_by_history_length(ranks, lengths)
    return result

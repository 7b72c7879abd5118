"""Full-ranking evaluation of user vectors against the whole catalogue, batched on the device."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Protocol

import numpy as np
import torch

from recgraft.data.split import Sequences, Split
from recgraft.engine.batching import padded_histories
from recgraft.engine.metrics import (
    RankingMetrics,
    breakdown_by_history_length,
    breakdown_by_item_group,
    held_out_ranks,
    mask_history,
    per_user_metrics,
)
from recgraft.engine.scoring import Scorer

Stage = Literal["valid", "test"]


class UserShard(Protocol):
    """An evaluation split across processes (``recgraft.distributed.ProcessShard``)."""

    def select(self, users: np.ndarray) -> np.ndarray:
        """The users this process ranks."""
        ...

    def gather(self, ranks: torch.Tensor, total: int) -> torch.Tensor:
        """Every process's ranks, in the order of all ``total`` users."""
        ...


#: Positions (users x window) in one trimmed evaluation batch: about 64 users at length
#: 200. Larger batches were slower on CPU (memory traffic), not faster.
TRIMMED_BATCH_POSITIONS = 12_800


def rank_held_out(
    scorer: Scorer,
    split: Split,
    stage: Stage,
    max_length: int,
    device: torch.device,
    batch_size: int = 1024,
    users: np.ndarray | None = None,
    trim_padding: bool = False,
) -> tuple[np.ndarray, torch.Tensor]:
    """Rank each evaluated user's held-out items of ``stage`` among all items, history excluded.

    The history before the stage is excluded from the ranking, the stage's held-out items
    are not (each is ranked among the others). With ``trim_padding`` (for encoders whose
    output ignores left padding) users are batched by history length, each batch is cut to
    its longest history and holds at most :data:`TRIMMED_BATCH_POSITIONS` positions (more
    users when histories are short), which skips most of the padding work and keeps tensors
    cache-sized. On a CPU with several threads, batches run side by side, one thread each
    (see :func:`_run_side_by_side`). Returns the users and their 0-based ranks, (U, T) with
    T the most held-out items any evaluated user of the stage has (padding -1; ties count
    against the held-out item), in the order of ``users``.
    """
    evaluated = split.evaluated_users(stage)
    if users is None:
        users = evaluated
    users = np.asarray(users, dtype=np.int64)
    history = split.history(stage)
    held = split.held_out(stage)
    width = max(int(held.lengths()[evaluated].max(initial=1)), 1)
    ranks = torch.full((len(users), width), -1, dtype=torch.long)

    @torch.no_grad()  # here, not on rank_held_out: worker threads do not inherit the caller's grad mode
    def rank_batch(batch: tuple[np.ndarray, int]) -> None:
        chosen, window = batch
        chunk = users[chosen]
        inputs = padded_histories(history, chunk, window).to(device)
        targets = torch.from_numpy(held.padded(chunk, width)).to(device)
        scores = scorer(inputs).float()
        # Exclusion uses the whole history, not only the encoder's window.
        entry_rows, items = _history_entries(history, chunk)
        scores = mask_history(scores, items.to(device), targets, rows=entry_rows.to(device), inplace=True)
        ranks[torch.from_numpy(chosen)] = held_out_ranks(scores, targets).cpu()

    batches = _batches(history.lengths()[users], max_length, batch_size, trim_padding)
    _run_side_by_side(rank_batch, batches, torch.get_num_threads() if device.type == "cpu" else 1)
    return users, ranks


def rank_targets(
    scorer: Scorer,
    split: Split,
    stage: Stage,
    max_length: int,
    device: torch.device,
    batch_size: int = 1024,
    users: np.ndarray | None = None,
    trim_padding: bool = False,
) -> tuple[np.ndarray, torch.Tensor]:
    """:func:`rank_held_out` for a split with one held-out item per user (leave-one-out):
    the users and their (U,) ranks. A ValueError under a split with several."""
    users, ranks = rank_held_out(scorer, split, stage, max_length, device, batch_size, users, trim_padding)
    if ranks.shape[1] != 1:
        raise ValueError(f"split {split.spec!r} holds out several items per user in {stage!r}: use rank_held_out")
    return users, ranks[:, 0]


def _batches(
    lengths: np.ndarray, max_length: int, batch_size: int, trim_padding: bool
) -> list[tuple[np.ndarray, int]]:
    """(positions of the batch's users, window) for every evaluation batch."""
    if not trim_padding:
        return [(np.arange(start, min(start + batch_size, len(lengths))), max_length)
                for start in range(0, len(lengths), batch_size)]
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        window = min(max_length, max(int(lengths[order[start]]), 1))
        rows = min(batch_size, max(1, TRIMMED_BATCH_POSITIONS // window))
        batches.append((order[start : start + rows], window))
        start += rows
    return batches


def _run_side_by_side(
    work: Callable[[tuple[np.ndarray, int]], None], batches: list[tuple[np.ndarray, int]], threads: int
) -> None:
    """Run the batches on ``threads`` threads (torch's count on a CPU, 1 on an accelerator),
    one torch thread per batch, then restore torch's thread count.

    Evaluation batches are small and independent: splitting each operator across threads
    pays a synchronisation per operator, running whole batches side by side does not
    (ML-1M, 6,040 users, 2 threads: about 1.07 s to 0.9 s).
    """
    if threads == 1 or len(batches) == 1:
        for batch in batches:
            work(batch)
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(work, batches):
                pass  # re-raises a worker's exception
    finally:
        torch.set_num_threads(previous)


def _history_entries(history: Sequences, users: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(row in the batch, item) for every item in the users' histories, straight from the CSR arrays."""
    starts, ends = history.indptr[users], history.indptr[users + 1]
    counts = ends - starts
    rows = np.repeat(np.arange(len(users)), counts)
    index = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return torch.from_numpy(rows), torch.from_numpy(history.items[index].astype(np.int64))


def evaluate(
    scorer: Scorer,
    split: Split,
    stage: Stage,
    max_length: int,
    device: torch.device,
    batch_size: int = 1024,
    breakdown: bool = False,
    trim_padding: bool = False,
    shard: UserShard | None = None,
    known_items: np.ndarray | None = None,
    per_user: bool = False,
) -> dict[str, object]:
    """Hit (``hr``), Recall, Precision, NDCG and MRR at 5, 10, 20 over the stage's users, each
    ranked on all its held-out items; with ``breakdown``, HR/NDCG@10 by the length of the
    user's history and by the held-out item: seen in training or not, and (given
    ``known_items``, bool per item id: which ones the pretrained model knew) known to the source or new.
    With ``per_user``, ``result["per_user"]`` holds the evaluated user ids and each one's
    metrics at 10 (lists in user order), for a paired test between two models
    (:func:`recgraft.engine.metrics.paired_bootstrap`).

    With a ``shard`` (under torchrun) this process ranks its share of the users and the
    ranks of all are gathered, so every process gets the single-process result.
    """
    if shard is None:
        users, ranks = rank_held_out(scorer, split, stage, max_length, device, batch_size, trim_padding=trim_padding)
    else:
        users = split.evaluated_users(stage)
        _, mine = rank_held_out(scorer, split, stage, max_length, device, batch_size, shard.select(users), trim_padding)
        ranks = shard.gather(mine, len(users))
    metrics = RankingMetrics()
    metrics.add(ranks)
    result: dict[str, object] = dict(metrics.result())
    if breakdown:
        lengths = torch.from_numpy(split.history(stage).lengths()[users])
        result["by_history_length"] = breakdown_by_history_length(ranks, lengths)
        result["by_item"] = breakdown_by_item_group(ranks, split.held_out(stage).padded(users, ranks.shape[1]),
                                                    item_groups(split, known_items))
    if per_user:
        result["per_user"] = {"users": users.tolist(), **{f"{name}@10": values.tolist()
                                                        for name, values in per_user_metrics(ranks, 10).items()}}
    return result


def item_groups(split: Split, known_items: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The cold-item view's groups, bool per item id: seen in the split's training part or not,
    and, given ``known_items``, known to the source model or new to it."""
    seen = np.zeros(split.domain.num_items + 1, dtype=bool)
    # the items of the users training read (a --train-fraction keeps some)
    seen[split.train.items[np.isin(split.train.rows(), split.train_users)]] = True
    groups = {"seen in training": seen, "unseen in training": ~seen}
    if known_items is not None:
        known = np.asarray(known_items, dtype=bool)
        groups |= {"known to the source": known, "new to the source": ~known}
    return groups

"""Splits: leave-one-out by time for the next-item task, ratio splits for the binary task.

Leave-one-out (the reference protocol): each user's interactions sorted by timestamp, ties
in file order; the last is the test item, the second-to-last the validation item, the rest
train. Users with fewer than 3 interactions are not evaluated (all their interactions are
train). Everything is vectorized (one lexsort), no per-user Python loop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recgraft.components import check_seed
from recgraft.data.domain import Domain
from recgraft.errors import ConfigError, DataError

Stage = Literal["valid", "test"]


@dataclass
class Sequences:
    """CSR of per-user time-sorted item ids: row u is user id u (row 0, the pad, is empty)."""

    indptr: np.ndarray  # int64 (num_users + 2,)
    items: np.ndarray  # int64 (indptr[-1],)

    def lengths(self) -> np.ndarray:
        """Row lengths, (num_users + 1,)."""
        return np.diff(self.indptr)

    def row(self, u: int) -> np.ndarray:
        """User ``u``'s item ids, oldest first."""
        return self.items[self.indptr[u] : self.indptr[u + 1]]

    @property
    def num_rows(self) -> int:
        return len(self.indptr) - 1

    def rows(self) -> np.ndarray:
        """The row (user id) of each entry of ``items``."""
        return np.repeat(np.arange(self.num_rows, dtype=np.int64), self.lengths())

    def padded(self, users: np.ndarray, max_len: int | None = None) -> np.ndarray:
        """Rows of ``users`` as a (B, L) int64 array, left-aligned, 0-padded; keeps the last ``max_len``."""
        users = np.asarray(users, dtype=np.int64)
        lengths = self.lengths()[users]
        width = int(lengths.max(initial=0)) if max_len is None else int(max_len)
        out = np.zeros((len(users), width), dtype=np.int64)
        take = np.minimum(lengths, width)
        total = int(take.sum())
        if total == 0:
            return out
        row = np.repeat(np.arange(len(users)), take)
        col = np.arange(total) - np.repeat(np.cumsum(take) - take, take)
        src = np.repeat(self.indptr[users + 1] - take, take) + col
        out[row, col] = self.items[src]
        return out

    @classmethod
    def from_rows(cls, rows: np.ndarray, items: np.ndarray, num_rows: int) -> Sequences:
        """Group ``items`` by ``rows`` (stable, so each row keeps the given order)."""
        order = np.argsort(rows, kind="stable")
        counts = np.bincount(rows, minlength=num_rows)
        indptr = np.zeros(num_rows + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, np.asarray(items, dtype=np.int64)[order])


@dataclass
class LeaveOneOutSplit:
    """Leave-one-out by time: train sequences plus one validation and one test item per user."""

    domain: Domain
    train: Sequences  # all but the last two per evaluated user; everything for users with < 3
    valid: np.ndarray  # int64 (num_users + 1,), item id or 0 (not evaluated)
    test: np.ndarray  # int64 (num_users + 1,)
    train_users: np.ndarray  # int64 user ids whose train rows are used for training

    def history(self, stage: Stage) -> Sequences:
        """What a user had before the target: train for ``valid``; train + the valid item for ``test``."""
        if stage == "valid":
            return self.train
        if stage != "test":
            raise ValueError(f"stage must be 'valid' or 'test', not {stage!r}")
        with_valid = np.flatnonzero(self.valid > 0)
        rows = np.concatenate([self.train.rows(), with_valid])
        items = np.concatenate([self.train.items, self.valid[with_valid]])
        return Sequences.from_rows(rows, items, self.train.num_rows)

    def targets(self, stage: Stage) -> np.ndarray:
        """The (num_users + 1,) target item ids of ``stage`` (0: none)."""
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test', not {stage!r}")
        return self.valid if stage == "valid" else self.test

    def evaluated_users(self, stage: Stage) -> np.ndarray:
        """User ids with a target in ``stage``."""
        return np.flatnonzero(self.targets(stage) > 0).astype(np.int64)


def time_order(domain: Domain) -> np.ndarray:
    """Interaction indices sorted by (user, timestamp), ties in file order."""
    n = domain.num_interactions
    return np.lexsort((np.arange(n), domain.timestamps, domain.user_ids))


def leave_one_out(domain: Domain) -> LeaveOneOutSplit:
    """Leave-one-out by time: last interaction test, second-to-last validation, the rest train."""
    num_rows = len(domain.users)
    order = time_order(domain)
    users = domain.user_ids[order]
    items = domain.item_ids[order]
    counts = np.bincount(users, minlength=num_rows)
    ends = np.cumsum(counts)  # (num_rows,): end offset of each user's run in the sorted order
    evaluated = counts >= 3
    evaluated[0] = False
    eval_users = np.flatnonzero(evaluated)
    valid = np.zeros(num_rows, dtype=np.int64)
    test = np.zeros(num_rows, dtype=np.int64)
    test[eval_users] = items[ends[eval_users] - 1]
    valid[eval_users] = items[ends[eval_users] - 2]
    keep = np.ones(len(items), dtype=bool)
    keep[ends[eval_users] - 1] = False
    keep[ends[eval_users] - 2] = False
    train_counts = counts - 2 * evaluated
    indptr = np.zeros(num_rows + 1, dtype=np.int64)
    np.cumsum(train_counts, out=indptr[1:])
    train = Sequences(indptr, items[keep])
    train_users = np.flatnonzero(train_counts > 0).astype(np.int64)
    return LeaveOneOutSplit(domain, train, valid, test, train_users)


def require_evaluated_users(split: LeaveOneOutSplit) -> None:
    """DataError when no user can be evaluated: a run on such data would report metrics over nobody."""
    if not (split.test > 0).any():
        raise DataError(
            f"domain {split.domain.name!r}: no user has the 3 interactions leave-one-out needs (its last two "
            f"are the validation and test items), so nothing can be evaluated ({split.domain.num_users:,} users, "
            f"{split.domain.num_interactions:,} interactions)"
        )


def longest_history(split: LeaveOneOutSplit) -> int:
    """The most interactions any user has (what a model may see at most, test item included)."""
    return int(np.bincount(split.domain.user_ids).max(initial=0))


def keep_train_fraction(split: LeaveOneOutSplit, fraction: float, seed: int) -> LeaveOneOutSplit:
    """Train on a seeded ``fraction`` of the train users (at least 1); evaluation still covers everyone.

    Histories stay model inputs for every user (encoders are inductive), so only
    ``train_users`` shrinks.
    """
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"train fraction must be in (0, 1], got {fraction}")
    seed = check_seed(seed)
    users = split.train_users
    if len(users) == 0:
        return split
    n = max(1, int(round(fraction * len(users))))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(users, size=n, replace=False)).astype(np.int64)
    return dataclasses.replace(split, train_users=chosen)


@dataclass
class RatioSplit:
    """Interaction indices (into the domain's arrays) of the train, validation and test parts."""

    domain: Domain
    train: np.ndarray  # int64
    valid: np.ndarray  # int64
    test: np.ndarray  # int64

    def part(self, name: Literal["train", "valid", "test"]) -> np.ndarray:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]


def ratio_split(
    domain: Domain,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    by_time: bool = False,
    seed: int = 0,
    by_user: bool = False,
) -> RatioSplit:
    """Split interactions into train/valid/test by ``ratios`` (normalized to sum 1).

    Args:
        domain: the interactions.
        ratios: the parts' shares.
        by_time: cut in time order (oldest train, newest test; ties in file order); else a seeded shuffle.
        seed: the shuffle's seed.
        by_user: cut each user's interactions separately (every user keeps a share of train).
    """
    seed = check_seed(seed)
    shares = np.asarray(ratios, dtype=np.float64)
    if shares.shape != (3,) or (shares < 0).any() or shares.sum() <= 0:
        raise ConfigError(f"ratios must be three non-negative numbers, got {ratios}")
    shares = shares / shares.sum()
    n = domain.num_interactions
    rng = np.random.default_rng(seed)
    if by_time:
        key = domain.timestamps
        order = np.lexsort((np.arange(n), key)) if not by_user else time_order(domain)
    else:
        order = rng.permutation(n)
        if by_user:
            order = order[np.argsort(domain.user_ids[order], kind="stable")]
    if not by_user:
        cut1 = int(np.floor(shares[0] * n))
        cut2 = cut1 + int(np.floor(shares[1] * n))
        parts = order[:cut1], order[cut1:cut2], order[cut2:]
    else:
        users = domain.user_ids[order]
        counts = np.bincount(users, minlength=len(domain.users))
        starts = np.cumsum(counts) - counts
        position = np.arange(n) - starts[users]
        size = counts[users]
        cut1 = np.floor(shares[0] * size)
        cut2 = cut1 + np.floor(shares[1] * size)
        parts = (
            order[position < cut1],
            order[(position >= cut1) & (position < cut2)],
            order[position >= cut2],
        )
    train, valid, test = (np.asarray(p, dtype=np.int64) for p in parts)
    return RatioSplit(domain, train, valid, test)

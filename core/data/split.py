"""Splits: the evaluation protocols, each a train part and two held-out stages per user.

A split assigns every interaction to exactly one part (train, valid or test). For each stage
(``valid``, ``test``) an evaluated user has a *history*, what the model sees (train for
``valid``; train and valid for ``test``, in time order), and a *set* of held-out items, the
stage's part. Training uses each user's train part in time order.

Protocols, named by a spec (:func:`parse_split`, :func:`make_split`):

- ``loo`` (the default, the reference protocol): leave-one-out by time. Each user's
  interactions sorted by timestamp, ties in file order; the last is the test item, the
  second-to-last the validation item, the rest train. Users with fewer than 3 interactions
  are not evaluated (all their interactions are train).
- ``ratio:0.8,0.1,0.1``: per user, a seeded random share of the interactions for each part.
- ``ratio-time:0.8,0.1,0.1``: per user, in time order (oldest train, newest test).
- ``temporal:0.8,0.1``: one global cut at the timestamp quantiles 0.8 and 0.8 + 0.1: train
  before the first cut, valid between, test from the second on, for everyone.

Per-user shares (RecBole's rule): a user with ``n`` interactions holds ``floor(share * n)``
in valid and in test and the rest in train; a held-out part whose share would round to none
gets one item while more than one stays in train. A user is evaluated in a stage when the
stage holds at least one of the user's items and the history is not empty. Everything is
vectorized (one lexsort), no per-user Python loop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from recgraft.components import check_seed
from recgraft.data.domain import Domain
from recgraft.errors import ConfigError, DataError

Stage = Literal["valid", "test"]
PROTOCOLS: tuple[str, ...] = ("loo", "ratio", "ratio-time", "temporal")
DEFAULT_SPLIT = "loo"
TRAIN, VALID, TEST = 0, 1, 2


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


@dataclass(frozen=True)
class SplitSpec:
    """A parsed split spec: the protocol and its shares (``str()`` gives the canonical spec)."""

    protocol: str
    shares: tuple[float, ...] = ()

    def __str__(self) -> str:
        if not self.shares:
            return self.protocol
        return f"{self.protocol}:" + ",".join(_share_text(s) for s in self.shares)


def _share_text(share: float) -> str:
    """The shortest text that reads back as ``share`` (0.8, not 0.8000000000000000444; 1, not 1.0)."""
    text = repr(float(share))
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


def parse_split(spec: str | SplitSpec | None) -> SplitSpec:
    """``loo``, ``ratio:TRAIN,VALID,TEST``, ``ratio-time:TRAIN,VALID,TEST`` or ``temporal:TRAIN,VALID``.

    Shares are numbers in [0, 1] summing to 1 (ratio) or to less than 1 (temporal: the test
    part is the rest). A bad spec is a one-line ConfigError.
    """
    if isinstance(spec, SplitSpec):
        return spec
    if spec is None:
        return SplitSpec(DEFAULT_SPLIT)
    text = str(spec).strip()
    name, _, args = text.partition(":")
    name = name.strip().lower()
    expected = "loo, ratio:0.8,0.1,0.1, ratio-time:0.8,0.1,0.1 or temporal:0.8,0.1"
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown split {text!r}: expected {expected}")
    if name == "loo":
        if args.strip():
            raise ConfigError(f"split 'loo' takes no shares, got {text!r}")
        return SplitSpec("loo")
    count = 2 if name == "temporal" else 3
    parts = [p.strip() for p in args.split(",")] if args.strip() else []
    if len(parts) != count:
        example = "temporal:0.8,0.1" if name == "temporal" else f"{name}:0.8,0.1,0.1"
        raise ConfigError(f"split {text!r} needs {count} comma-separated shares, e.g. {example}")
    try:
        shares = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"split {text!r}: shares must be numbers, e.g. {name}:0.8,0.1{',0.1' if count == 3 else ''}") from None
    if not all(np.isfinite(s) and 0.0 <= s <= 1.0 for s in shares):
        raise ConfigError(f"split {text!r}: every share must be a number from 0 to 1")
    total = sum(shares)
    if count == 3 and not np.isclose(total, 1.0, atol=1e-6):
        raise ConfigError(f"split {text!r}: the three shares must sum to 1, not {total:g}")
    if count == 3 and shares[0] <= 0:
        raise ConfigError(f"split {text!r}: the train share must be above 0")
    if count == 2 and (shares[0] <= 0 or total >= 1.0 + 1e-9 or np.isclose(total, 1.0)):
        raise ConfigError(f"split {text!r}: the train share must be above 0 and train + valid below 1 "
                          "(the test part is what comes after)")
    return SplitSpec(name, shares)


@dataclass
class Split:
    """A split: which part each interaction is in, and, per stage, histories and held-out sets.

    ``history(stage)``, ``held_out(stage)`` and ``evaluated_users(stage)`` are what evaluation
    reads; ``train`` and ``train_users`` what training reads. ``targets(stage)`` is each
    user's first held-out item (the only one under leave-one-out).
    """

    domain: Domain
    part: np.ndarray  # int8 (num_interactions,): TRAIN, VALID or TEST per interaction
    train: Sequences  # each user's train part in time order
    train_users: np.ndarray  # int64 user ids whose train rows are used for training
    spec: str = DEFAULT_SPLIT
    _held: dict[str, Sequences] = field(default_factory=dict, init=False, repr=False, compare=False)
    _cache: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    @staticmethod
    def _check(stage: str) -> None:
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test', not {stage!r}")

    def _sequences(self, parts: tuple[int, ...]) -> Sequences:
        if "order" not in self._cache:
            self._cache["order"] = time_order(self.domain)
        order: np.ndarray = self._cache["order"]  # type: ignore[assignment]
        chosen = order[np.isin(self.part[order], parts)]
        return Sequences.from_rows(self.domain.user_ids[chosen], self.domain.item_ids[chosen], self.train.num_rows)

    def history(self, stage: Stage) -> Sequences:
        """What a user had before the stage: train for ``valid``; train and valid (time order) for ``test``."""
        self._check(stage)
        if stage == "valid":
            return self.train
        key = "history:test"
        if key not in self._cache:
            self._cache[key] = self._sequences((TRAIN, VALID))
        history: Sequences = self._cache[key]  # type: ignore[assignment]
        return history

    def held_out(self, stage: Stage) -> Sequences:
        """Each user's held-out items of ``stage`` (the set to rank), oldest first."""
        self._check(stage)
        if stage not in self._held:
            self._held[stage] = self._sequences((VALID if stage == "valid" else TEST,))
        return self._held[stage]

    def targets(self, stage: Stage) -> np.ndarray:
        """The (num_users + 1,) first held-out item id of each user in ``stage`` (0: none)."""
        self._check(stage)
        key = f"targets:{stage}"
        if key not in self._cache:
            held = self.held_out(stage)
            out = np.zeros(held.num_rows, dtype=np.int64)
            has = np.flatnonzero(held.lengths() > 0)
            out[has] = held.items[held.indptr[has]]
            self._cache[key] = out
        targets: np.ndarray = self._cache[key]  # type: ignore[assignment]
        return targets

    @property
    def valid(self) -> np.ndarray:
        """``targets("valid")``: under leave-one-out, each user's validation item."""
        return self.targets("valid")

    @property
    def test(self) -> np.ndarray:
        """``targets("test")``: under leave-one-out, each user's test item."""
        return self.targets("test")

    def evaluated_users(self, stage: Stage) -> np.ndarray:
        """User ids with a held-out item in ``stage`` and a non-empty history."""
        evaluated = (self.held_out(stage).lengths() > 0) & (self.history(stage).lengths() > 0)
        return np.flatnonzero(evaluated).astype(np.int64)


#: The name under which splits were known when leave-one-out was the only protocol.
LeaveOneOutSplit = Split


def time_order(domain: Domain) -> np.ndarray:
    """Interaction indices sorted by (user, timestamp), ties in file order."""
    n = domain.num_interactions
    return np.lexsort((np.arange(n), domain.timestamps, domain.user_ids))


def split_from_parts(domain: Domain, part: np.ndarray, spec: str, order: np.ndarray | None = None) -> Split:
    """The split that puts interaction ``i`` in ``part[i]`` (TRAIN, VALID or TEST); ``order``
    is ``time_order(domain)`` when the caller has it."""
    part = np.asarray(part, dtype=np.int8)
    num_rows = len(domain.users)
    order = time_order(domain) if order is None else order
    chosen = order[part[order] == TRAIN]
    train = Sequences.from_rows(domain.user_ids[chosen], domain.item_ids[chosen], num_rows)
    train_users = np.flatnonzero(train.lengths() > 0).astype(np.int64)
    split = Split(domain, part, train, train_users, spec)
    split._cache["order"] = order
    return split


def leave_one_out(domain: Domain) -> Split:
    """Leave-one-out by time: last interaction test, second-to-last validation, the rest train."""
    num_rows = len(domain.users)
    order = time_order(domain)
    counts = np.bincount(domain.user_ids, minlength=num_rows)
    ends = np.cumsum(counts)  # (num_rows,): end offset of each user's run in the sorted order
    evaluated = counts >= 3
    evaluated[0] = False
    eval_users = np.flatnonzero(evaluated)
    part = np.full(domain.num_interactions, TRAIN, dtype=np.int8)
    part[order[ends[eval_users] - 1]] = TEST
    part[order[ends[eval_users] - 2]] = VALID
    return split_from_parts(domain, part, "loo", order)


def _per_user_counts(sizes: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(valid, test) counts per user of ``sizes`` interactions, by RecBole's rule (see the module)."""
    valid = np.floor(shares[1] * sizes + 1e-9).astype(np.int64)
    test = np.floor(shares[2] * sizes + 1e-9).astype(np.int64)
    for counts, share in ((test, shares[2]), (valid, shares[1])):
        bump = (sizes - valid - test > 1) & (counts == 0) & (share * sizes > 0)
        counts += bump
    return valid, test


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
        by_user: cut each user's interactions separately (every user keeps a share of train;
            per-user counts by the rule in the module's docstring).
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
        valid, test = _per_user_counts(counts, shares)
        cut1 = (counts - valid - test)[users]
        cut2 = (counts - test)[users]
        parts = (
            order[position < cut1],
            order[(position >= cut1) & (position < cut2)],
            order[position >= cut2],
        )
    train, valid_part, test_part = (np.asarray(p, dtype=np.int64) for p in parts)
    return RatioSplit(domain, train, valid_part, test_part)


def temporal_split(domain: Domain, shares: tuple[float, float] = (0.8, 0.1)) -> Split:
    """One global cut by timestamp quantiles: train before ``quantile(train)``, valid up to
    ``quantile(train + valid)``, test from there on (an interaction at a cut goes to the later part)."""
    spec = parse_split(f"temporal:{shares[0]},{shares[1]}")
    first, second = np.quantile(domain.timestamps, [spec.shares[0], spec.shares[0] + spec.shares[1]])
    part = np.full(domain.num_interactions, TRAIN, dtype=np.int8)
    part[domain.timestamps >= first] = VALID
    part[domain.timestamps >= second] = TEST
    return split_from_parts(domain, part, str(spec))


def make_split(domain: Domain, spec: str | SplitSpec | None = None, seed: int = 0) -> Split:
    """The split ``spec`` names (see :func:`parse_split`; None is ``loo``) of ``domain``;
    ``seed`` drives the random ``ratio`` split."""
    parsed = parse_split(spec)
    seed = check_seed(seed)
    if parsed.protocol == "loo":
        return leave_one_out(domain)
    if parsed.protocol == "temporal":
        return temporal_split(domain, (parsed.shares[0], parsed.shares[1]))
    shares = (parsed.shares[0], parsed.shares[1], parsed.shares[2])
    parts = ratio_split(domain, shares, by_time=parsed.protocol == "ratio-time", seed=seed, by_user=True)
    part = np.full(domain.num_interactions, TRAIN, dtype=np.int8)
    part[parts.valid] = VALID
    part[parts.test] = TEST
    return split_from_parts(domain, part, str(parsed))


def resolve_split(data: Domain | Split, spec: str | SplitSpec | None = None, seed: int = 0) -> Split:
    """``data`` itself when it is already a split (``spec``, if given, must be its own), else
    ``make_split(data, spec, seed)``: what the pipelines' ``split=`` argument goes through."""
    if isinstance(data, Split):
        if spec is not None and str(parse_split(spec)) != data.spec:
            raise ConfigError(f"split {str(parse_split(spec))!r} was asked for, but the data given is "
                              f"already split by {data.spec!r}")
        return data
    return make_split(data, spec, seed)


def require_evaluated_users(split: Split) -> None:
    """DataError when no user can be evaluated: a run on such data would report metrics over nobody."""
    if len(split.evaluated_users("test")) > 0:
        return
    if split.spec == "loo":
        raise DataError(
            f"domain {split.domain.name!r}: no user has the 3 interactions leave-one-out needs (its last two "
            f"are the validation and test items), so nothing can be evaluated ({split.domain.num_users:,} users, "
            f"{split.domain.num_interactions:,} interactions)"
        )
    raise DataError(
        f"domain {split.domain.name!r}: under split {split.spec!r} no user has both a test item and a history, "
        f"so nothing can be evaluated ({split.domain.num_users:,} users, {split.domain.num_interactions:,} interactions)"
    )


def longest_history(split: Split) -> int:
    """The most interactions any user has (what a model may see at most, test item included)."""
    return int(np.bincount(split.domain.user_ids).max(initial=0))


def keep_train_fraction(split: Split, fraction: float, seed: int) -> Split:
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

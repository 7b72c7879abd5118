"""Domains: interactions (user, item, timestamp, rating) with item and user feature tables.

Ids are positions in a :class:`Vocabulary`; id 0 is the pad ``"[PAD]"`` in both, so a
domain's ``user_ids`` run 1..num_users and its ``item_ids`` 1..num_items, and padded
batches can use 0 freely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from recgraft.errors import DataError

PAD = "[PAD]"


@dataclass(frozen=True)
class Vocabulary:
    """Tokens by id: ``tokens[0] == "[PAD]"`` and a token's id is its position."""

    tokens: np.ndarray  # dtype object (str), (V,)

    def __post_init__(self) -> None:
        if len(self.tokens) == 0 or self.tokens[0] != PAD:
            raise DataError(f"a vocabulary starts with {PAD!r}; use Vocabulary.from_tokens(...)")

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> Vocabulary:
        """A vocabulary of ``tokens`` (unique, in this order) after the pad."""
        body = np.asarray(
            list(tokens) if not isinstance(tokens, np.ndarray) else tokens, dtype=object
        )
        array = np.empty(len(body) + 1, dtype=object)
        array[0] = PAD
        array[1:] = body
        vocab = cls(array)
        if not vocab._index.is_unique:
            counts = pd.Index(array).value_counts()
            dupes = [str(t) for t in counts[counts > 1].index[:3]]
            raise DataError(f"duplicate tokens in vocabulary: {', '.join(dupes)}")
        return vocab

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.tokens, dtype=object)

    def __len__(self) -> int:
        """Number of ids, the pad included."""
        return len(self.tokens)

    def index(self, token: str) -> int:
        """The id of ``token``; DataError when it is not in the vocabulary."""
        try:
            found = self._index.get_loc(token)
        except KeyError:
            raise DataError(f"unknown token {token!r}") from None
        if not isinstance(found, int | np.integer):  # duplicates give a slice or mask
            raise DataError(f"token {token!r} is not unique in the vocabulary")
        return int(found)

    def lookup(self, tokens: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        """Ids of ``tokens`` (int64), 0 for unknown tokens."""
        ids = self._index.get_indexer(pd.Index(np.asarray(tokens, dtype=object), dtype=object))
        ids = ids.astype(np.int64, copy=False)
        ids[ids < 0] = 0
        return ids

    def token(self, i: int) -> str:
        """The token of id ``i``."""
        return str(self.tokens[i])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return len(self.tokens) == len(other.tokens) and bool(np.all(self.tokens == other.tokens))

    def __hash__(self) -> int:
        return hash(tuple(self.tokens[:64])) ^ len(self.tokens)

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.tokens[1:4])
        return f"Vocabulary({len(self) - 1} tokens: {head}{', ...' if len(self) > 4 else ''})"


def _pad_value(values: np.ndarray) -> Any:
    return np.nan if values.dtype.kind == "f" else ("" if values.dtype == object else 0)


def _hash_array(h: Any, values: np.ndarray | None) -> None:
    if values is None:
        h.update(b"<none>")
        return
    if values.dtype == object:
        h.update(b"O")
        h.update("\x1f".join(map(str, values.tolist())).encode("utf-8", "surrogatepass"))
    else:
        h.update(values.dtype.str.encode())
        h.update(np.ascontiguousarray(values).tobytes())
    h.update(b"\x1e")


@dataclass(eq=False)
class Domain:
    """A set of interactions with item and user feature tables, ids from two vocabularies."""

    name: str
    user_ids: np.ndarray  # int64 (N,), 1..num_users
    item_ids: np.ndarray  # int64 (N,), 1..num_items
    timestamps: np.ndarray  # float64 (N,); file order index when the file has none
    ratings: np.ndarray | None  # float32 (N,)
    users: Vocabulary
    items: Vocabulary
    item_features: dict[str, np.ndarray] = field(default_factory=dict)  # each (len(items),)
    user_features: dict[str, np.ndarray] = field(default_factory=dict)  # each (len(users),)
    source: str | None = None

    def __post_init__(self) -> None:
        self.user_ids = np.asarray(self.user_ids, dtype=np.int64)
        self.item_ids = np.asarray(self.item_ids, dtype=np.int64)
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
        if self.ratings is not None:
            self.ratings = np.asarray(self.ratings, dtype=np.float32)
        n = len(self.user_ids)
        for label, arr in (
            ("item_ids", self.item_ids),
            ("timestamps", self.timestamps),
            ("ratings", self.ratings),
        ):
            if arr is not None and len(arr) != n:
                raise DataError(
                    f"domain {self.name!r}: {label} has {len(arr)} entries, user_ids {n}"
                )
        if not np.isfinite(self.timestamps).all():
            first = int(np.flatnonzero(~np.isfinite(self.timestamps))[0])
            raise DataError(
                f"domain {self.name!r}: timestamps must be finite numbers; interaction {first} has "
                f"{self.timestamps[first]}"
            )
        for kind, features, vocab in (
            ("item", self.item_features, self.items),
            ("user", self.user_features, self.users),
        ):
            for column, values in features.items():
                if len(values) != len(vocab):
                    raise DataError(
                        f"domain {self.name!r}: {kind} feature {column!r} has {len(values)} rows, "
                        f"expected {len(vocab)} (one per id, pad included)"
                    )

    @property
    def num_users(self) -> int:
        """Users, excluding the pad."""
        return len(self.users) - 1

    @property
    def num_items(self) -> int:
        """Items, excluding the pad."""
        return len(self.items) - 1

    @property
    def num_interactions(self) -> int:
        return len(self.user_ids)

    def fingerprint(self) -> str:
        """sha256 (hex) of the interactions, the vocabularies and the feature tables (sorted by name)."""
        h = hashlib.sha256(b"recgraft-domain-v1")
        for values in (
            self.user_ids,
            self.item_ids,
            self.timestamps,
            self.ratings,
            self.users.tokens,
            self.items.tokens,
        ):
            _hash_array(h, values)
        for kind, features in (("item", self.item_features), ("user", self.user_features)):
            for column in sorted(features):
                h.update(f"{kind}:{column}".encode())
                _hash_array(h, np.asarray(features[column]))
        return h.hexdigest()

    def subset(self, mask: np.ndarray) -> Domain:
        """The interactions where ``mask`` holds; ids re-indexed compactly (order kept), features follow."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.user_ids.shape:
            raise DataError(f"subset mask has shape {mask.shape}, expected {self.user_ids.shape}")
        user_ids, item_ids = self.user_ids[mask], self.item_ids[mask]
        keep_users = np.zeros(len(self.users), dtype=bool)
        keep_users[0] = True
        keep_users[user_ids] = True
        keep_items = np.zeros(len(self.items), dtype=bool)
        keep_items[0] = True
        keep_items[item_ids] = True
        new_user = np.cumsum(keep_users) - 1
        new_item = np.cumsum(keep_items) - 1
        return Domain(
            name=self.name,
            user_ids=new_user[user_ids],
            item_ids=new_item[item_ids],
            timestamps=self.timestamps[mask],
            ratings=None if self.ratings is None else self.ratings[mask],
            users=Vocabulary(self.users.tokens[keep_users]),
            items=Vocabulary(self.items.tokens[keep_items]),
            item_features={k: np.asarray(v)[keep_items] for k, v in self.item_features.items()},
            user_features={k: np.asarray(v)[keep_users] for k, v in self.user_features.items()},
            source=self.source,
        )

    def __repr__(self) -> str:
        return (
            f"Domain({self.name!r}: {self.num_users} users, {self.num_items} items, "
            f"{self.num_interactions} interactions)"
        )


def align_features(
    vocab: Vocabulary, keys: np.ndarray, columns: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Feature columns of a table keyed by ``keys`` as arrays aligned with ``vocab``'s ids.

    Rows whose key is not in the vocabulary are dropped; the first row wins for duplicate keys;
    ids without a row (and the pad) get ``""`` (text) or ``nan`` (numbers).
    """
    ids = vocab.lookup(keys)
    _, first = np.unique(ids, return_index=True)
    first = first[ids[first] > 0]
    out: dict[str, np.ndarray] = {}
    for column, values in columns.items():
        values = np.asarray(values)
        if values.dtype.kind in "iub":
            values = values.astype(np.float64)
        aligned = np.full(
            len(vocab),
            _pad_value(values),
            dtype=values.dtype if values.dtype == object else np.float64,
        )
        aligned[ids[first]] = values[first]
        out[column] = aligned
    return out


def domain_from_tokens(
    name: str,
    user_tokens: np.ndarray,
    item_tokens: np.ndarray,
    timestamps: np.ndarray | None = None,
    ratings: np.ndarray | None = None,
    *,
    item_table: tuple[np.ndarray, dict[str, np.ndarray]] | None = None,
    user_table: tuple[np.ndarray, dict[str, np.ndarray]] | None = None,
    source: str | None = None,
) -> Domain:
    """Build a domain from token columns; ids follow the order of first appearance.

    ``item_table``/``user_table`` are ``(keys, {column: values})`` feature tables joined by token.
    """
    user_codes, user_uniques = pd.factorize(np.asarray(user_tokens, dtype=object), sort=False)
    item_codes, item_uniques = pd.factorize(np.asarray(item_tokens, dtype=object), sort=False)
    users = Vocabulary.from_tokens(np.asarray(user_uniques, dtype=object))
    items = Vocabulary.from_tokens(np.asarray(item_uniques, dtype=object))
    n = len(user_codes)
    return Domain(
        name=name,
        user_ids=user_codes.astype(np.int64) + 1,
        item_ids=item_codes.astype(np.int64) + 1,
        timestamps=np.arange(n, dtype=np.float64) if timestamps is None else timestamps,
        ratings=ratings,
        users=users,
        items=items,
        item_features={} if item_table is None else align_features(items, *item_table),
        user_features={} if user_table is None else align_features(users, *user_table),
        source=source,
    )

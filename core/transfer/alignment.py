"""Item alignment across domains: which target items are source items, by token or by a column.

A pretrained encoder knows the source catalogue; a target domain has its own. Items are
matched by their token (``align_on="token"``) or by the value of an item-feature column
(``align_on="movie_title"``), e.g. when the two domains key items differently. Aligned
target items inherit their pretrained embedding rows (``Encoder.resize_items``), new items
start as the average inherited item, and the overlap is reported. No torch here: alignment is bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recgraft.data.domain import Vocabulary
from recgraft.errors import ConfigError

TOKEN = "token"
#: ``align_on="none"``: no target item inherits a source row; only item features carry over.
NONE = "none"


@dataclass(frozen=True)
class ItemAlignment:
    """For each target item id, the source item id it inherits (-1: a new item)."""

    source_rows: np.ndarray  # int64 (num_target_items + 1,); [0] = 0 (the pad)
    on: str  # "token" or the item-feature column matched on
    source_items: int  # catalogue size of the source, pad excluded
    ambiguous: int = 0  # target items whose key names several source items (the first wins)
    note: str | None = None  # e.g. why the alignment fell back to tokens

    @property
    def target_items(self) -> int:
        return len(self.source_rows) - 1

    @property
    def matched(self) -> int:
        return int((self.source_rows[1:] >= 0).sum())

    @property
    def share(self) -> float:
        """Share of target items that inherit a pretrained row."""
        return self.matched / max(self.target_items, 1)

    def known_items(self) -> np.ndarray:
        """Bool per target item id (pad False): the items that inherit a source row."""
        known = self.source_rows >= 0
        known[0] = False
        return known

    def target_of_source(self) -> np.ndarray:
        """For each source item id, its target item id (0: not in the target catalogue)."""
        out = np.zeros(self.source_items + 1, dtype=np.int64)
        known = np.flatnonzero(self.source_rows > 0)
        out[self.source_rows[known]] = known
        return out

    def report(self) -> dict[str, Any]:
        """The overlap found, as plain JSON."""
        extra = {"note": self.note} if self.note else {}
        return {
            "on": self.on,
            "matched": self.matched,
            "target_items": self.target_items,
            "source_items": self.source_items,
            "share": round(self.share, 4),
            "new_items": self.target_items - self.matched,
            "ambiguous": self.ambiguous,
            **extra,
        }

    @classmethod
    def identity(cls, num_items: int) -> ItemAlignment:
        """Every item is itself (a model used on its own catalogue)."""
        return cls(np.arange(num_items + 1, dtype=np.int64), TOKEN, num_items)


def no_alignment(source_items: Vocabulary, target_items: Vocabulary) -> ItemAlignment:
    """Every target item new (``align_on="none"``): what carries over is the encoder and its item features."""
    rows = np.full(len(target_items), -1, dtype=np.int64)
    rows[0] = 0
    return ItemAlignment(rows, NONE, len(source_items) - 1)


def _keys(values: np.ndarray) -> pd.Index:
    """Keys as text; missing values (NaN, None, "") become None so they never match."""
    text = [None if v is None or (isinstance(v, float) and np.isnan(v)) or str(v) == "" else str(v)
            for v in np.asarray(values, dtype=object)]
    return pd.Index(text, dtype=object)


def align_items(
    source_items: Vocabulary,
    target_items: Vocabulary,
    on: str = TOKEN,
    *,
    source_keys: np.ndarray | None = None,
    target_keys: np.ndarray | None = None,
) -> ItemAlignment:
    """Match target items to source items by token, or by the given key arrays.

    Args:
        source_items, target_items: the two vocabularies (id 0 is the pad in both).
        on: ``"token"``, or the name of the column the keys come from (for the report).
        source_keys, target_keys: one key per id (pad included) when ``on`` is a column.
    """
    if on == TOKEN:
        source_keys, target_keys = source_items.tokens, target_items.tokens
    if source_keys is None or target_keys is None:
        raise ConfigError(f"align_on {on!r}: both domains need the item column {on!r}")
    if len(source_keys) != len(source_items) or len(target_keys) != len(target_items):
        raise ConfigError(f"align_on {on!r}: one key per item id is needed")
    source = _keys(source_keys)
    source_index = pd.Series(np.arange(len(source)), index=source)
    source_index = source_index.iloc[1:]  # never match the pad
    source_index = source_index[source_index.index.notna()]
    duplicated = source_index.index.duplicated(keep="first")
    ambiguous_keys = set(source_index.index[duplicated])
    source_index = source_index[~duplicated]
    target = _keys(target_keys)
    rows = source_index.reindex(target).to_numpy(dtype=np.float64, na_value=np.nan)
    rows = np.where(np.isnan(rows), -1, rows).astype(np.int64)
    rows[0] = 0
    ambiguous = sum(1 for key in target[1:] if key in ambiguous_keys)
    return ItemAlignment(rows, on, len(source_items) - 1, ambiguous)


def item_column(features: dict[str, np.ndarray], column: str, where: str) -> np.ndarray:
    """The item-feature column ``column`` of ``where``; a ConfigError lists what there is."""
    if column not in features:
        known = ", ".join(sorted(features)) or "none"
        raise ConfigError(f"align_on {column!r}: {where} has no item column {column!r} (it has: {known})")
    return np.asarray(features[column])

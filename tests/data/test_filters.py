from __future__ import annotations

import numpy as np
import pytest

from recgraft.data.domain import domain_from_tokens
from recgraft.data.filters import k_core, keep_positive
from recgraft.errors import DataError


def test_keep_positive() -> None:
    d = domain_from_tokens(
        "t",
        np.array(["u", "u", "v"], dtype=object),
        np.array(["a", "b", "c"], dtype=object),
        ratings=np.array([5, 2, 4], dtype=np.float32),
    )
    kept = keep_positive(d, 4)
    assert kept.items.tokens.tolist()[1:] == ["a", "c"]
    assert kept.num_interactions == 2
    with pytest.raises(DataError, match="no ratings"):
        keep_positive(
            domain_from_tokens("t", np.array(["u"], dtype=object), np.array(["a"], dtype=object)), 4
        )


def test_k_core_iterates_until_stable() -> None:
    # items c, e (1 each) go; then u3 has 1 left and goes; then d has 1 and goes; then u2 goes.
    users = ["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u4", "u4"]
    items = ["a", "b", "c", "a", "d", "d", "e", "a", "b"]
    d = domain_from_tokens("t", np.array(users, dtype=object), np.array(items, dtype=object))
    core = k_core(d, user_k=2, item_k=2)
    pairs = set(
        zip(core.users.tokens[core.user_ids], core.items.tokens[core.item_ids], strict=True)
    )
    assert pairs == {("u1", "a"), ("u1", "b"), ("u4", "a"), ("u4", "b")}
    assert (np.bincount(core.user_ids)[1:] >= 2).all() and (
        np.bincount(core.item_ids)[1:] >= 2
    ).all()

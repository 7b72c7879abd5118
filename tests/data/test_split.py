from __future__ import annotations

import numpy as np
import pytest

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.data.split import (
    Sequences,
    keep_train_fraction,
    leave_one_out,
    longest_history,
    ratio_split,
    require_evaluated_users,
)
from recgraft.errors import ConfigError, DataError


def toy() -> Domain:
    # file order matters for ties: u1's b and c share timestamp 2 -> b (earlier in file) first.
    rows = [
        ("u1", "d", 4.0),
        ("u1", "b", 2.0),
        ("u1", "a", 1.0),
        ("u1", "c", 2.0),
        ("u1", "e", 5.0),
        ("u2", "a", 9.0),
        ("u2", "b", 1.0),  # 2 interactions: not evaluated
        ("u3", "c", 3.0),
        ("u3", "a", 3.0),
        ("u3", "b", 3.0),  # all tied: file order
    ]
    users, items, times = zip(*rows, strict=True)
    return domain_from_tokens(
        "toy", np.array(users, dtype=object), np.array(items, dtype=object), np.array(times)
    )


def tokens(d: Domain, ids: np.ndarray) -> list[str]:
    return [str(t) for t in d.items.tokens[ids]]


def test_leave_one_out_order_and_ties() -> None:
    d = toy()
    s = leave_one_out(d)
    u1, u2, u3 = (d.users.index(u) for u in ("u1", "u2", "u3"))
    assert tokens(d, s.train.row(u1)) == ["a", "b", "c"]
    assert tokens(d, s.valid[[u1]]) == ["d"] and tokens(d, s.test[[u1]]) == ["e"]
    assert tokens(d, s.train.row(u3)) == ["c"]
    assert tokens(d, s.valid[[u3]]) == ["a"] and tokens(d, s.test[[u3]]) == ["b"]
    # users with < 3 interactions: everything is train, no target
    assert tokens(d, s.train.row(u2)) == ["b", "a"]
    assert s.valid[u2] == 0 and s.test[u2] == 0
    assert s.evaluated_users("test").tolist() == sorted([u1, u3])
    assert s.evaluated_users("valid").tolist() == sorted([u1, u3])
    assert s.train.indptr.shape == (d.num_users + 2,)
    assert s.train.lengths().tolist()[0] == 0 and len(s.train.lengths()) == d.num_users + 1
    assert sorted(s.train_users.tolist()) == [u1, u2, u3]
    assert s.valid.dtype == np.int64 and s.test.shape == (d.num_users + 1,)


def test_history_adds_valid_item_for_test() -> None:
    d = toy()
    s = leave_one_out(d)
    u1, u2 = d.users.index("u1"), d.users.index("u2")
    assert tokens(d, s.history("valid").row(u1)) == ["a", "b", "c"]
    assert tokens(d, s.history("test").row(u1)) == ["a", "b", "c", "d"]
    assert tokens(d, s.history("test").row(u2)) == ["b", "a"]


def test_sequences_padded_keeps_last_items() -> None:
    seq = Sequences(np.array([0, 0, 3, 4]), np.array([5, 6, 7, 8]))
    assert seq.padded(np.array([1, 2, 0])).tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert seq.padded(np.array([1]), max_len=2).tolist() == [[6, 7]]


def test_keep_train_fraction_seeded_and_keeps_evaluation() -> None:
    d = domain_from_tokens(
        "big",
        np.repeat(np.array([f"u{i}" for i in range(50)], dtype=object), 4),
        np.tile(np.array(["a", "b", "c", "d"], dtype=object), 50),
    )
    s = leave_one_out(d)
    a = keep_train_fraction(s, 0.2, seed=1)
    b = keep_train_fraction(s, 0.2, seed=1)
    c = keep_train_fraction(s, 0.2, seed=2)
    assert len(a.train_users) == 10
    assert a.train_users.tolist() == b.train_users.tolist()
    assert a.train_users.tolist() != c.train_users.tolist()
    assert set(a.train_users) <= set(s.train_users)
    assert a.evaluated_users("test").tolist() == s.evaluated_users("test").tolist()
    assert len(keep_train_fraction(s, 0.001, seed=0).train_users) == 1
    with pytest.raises(ConfigError):
        keep_train_fraction(s, 0.0, seed=0)


def test_ratio_split_random_and_by_time() -> None:
    n = 100
    d = domain_from_tokens(
        "r",
        np.array([f"u{i % 7}" for i in range(n)], dtype=object),
        np.array([f"i{i}" for i in range(n)], dtype=object),
        np.arange(n)[::-1].astype(float),
    )
    r = ratio_split(d, (0.8, 0.1, 0.1), seed=3)
    assert (len(r.train), len(r.valid), len(r.test)) == (80, 10, 10)
    assert sorted(np.concatenate([r.train, r.valid, r.test]).tolist()) == list(range(n))
    assert r.train.tolist() == ratio_split(d, seed=3).train.tolist()
    t = ratio_split(d, (0.8, 0.1, 0.1), by_time=True)
    assert (
        d.timestamps[t.train].max()
        < d.timestamps[t.valid].min()
        <= d.timestamps[t.valid].max()
        < d.timestamps[t.test].min()
    )
    u = ratio_split(d, (0.5, 0.25, 0.25), by_user=True, seed=0)
    assert set(d.user_ids[u.train]) == set(d.user_ids)
    assert sorted(np.concatenate([u.train, u.valid, u.test]).tolist()) == list(range(n))
    with pytest.raises(ConfigError):
        ratio_split(d, (1.0, -1.0, 0.0))


def test_require_evaluated_users_refuses_data_where_nobody_can_be_evaluated() -> None:
    singles = domain_from_tokens("singles", np.array(["u", "v", "w", "w"]), np.array(["a", "b", "a", "b"]))
    with pytest.raises(DataError, match="'singles': no user has the 3 interactions leave-one-out needs"):
        require_evaluated_users(leave_one_out(singles))
    enough = domain_from_tokens("enough", np.array(["u", "u", "u", "v"]), np.array(["a", "b", "c", "a"]))
    require_evaluated_users(leave_one_out(enough))
    assert longest_history(leave_one_out(enough)) == 3


@pytest.mark.parametrize("seed", [-1, 2**63, 2**70])
def test_seeds_numpy_cannot_take_are_a_config_error(seed: int) -> None:
    domain = domain_from_tokens("d", np.array(["u", "u", "u", "v"]), np.array(["a", "b", "c", "a"]))
    with pytest.raises(ConfigError, match="seed must be an integer from 0 to 2\\*\\*63-1"):
        keep_train_fraction(leave_one_out(domain), 0.5, seed)
    with pytest.raises(ConfigError, match="seed must be an integer"):
        ratio_split(domain, seed=seed)

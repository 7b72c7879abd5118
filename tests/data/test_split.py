from __future__ import annotations

import numpy as np
import pytest

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.data.split import (
    Sequences,
    keep_train_fraction,
    leave_one_out,
    longest_history,
    make_split,
    parse_split,
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


# --- split protocols by spec -------------------------------------------------------------

SPECS = ["loo", "ratio:0.8,0.1,0.1", "ratio-time:0.8,0.1,0.1", "temporal:0.8,0.1"]


def many(users: int = 30, per_user: int = 20, seed: int = 0) -> Domain:
    """``users`` users with ``per_user`` interactions each at distinct random timestamps."""
    rng = np.random.default_rng(seed)
    n = users * per_user
    return domain_from_tokens(
        "many",
        np.repeat(np.array([f"u{i}" for i in range(users)], dtype=object), per_user),
        np.array([f"i{k}" for k in rng.integers(0, 50, size=n)], dtype=object),
        rng.permutation(n).astype(float),
    )


def entries(seq: Sequences) -> list[tuple[int, int]]:
    return sorted(zip(seq.rows().tolist(), seq.items.tolist(), strict=True))


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [("loo", "loo"), (None, "loo"), (" LOO ", "loo"), ("ratio:0.8,0.1,0.1", "ratio:0.8,0.1,0.1"),
     ("ratio-time: 0.7, 0.15, 0.15", "ratio-time:0.7,0.15,0.15"), ("temporal:0.8,0.1", "temporal:0.8,0.1"),
     ("ratio:1.0,0,0.0", "ratio:1,0,0"), ("ratio:0.3333333333,0.3333333333,0.3333333334",
                                           "ratio:0.3333333333,0.3333333333,0.3333333334")],
)
def test_parse_split_reads_each_protocol_and_prints_its_canonical_spec(spec: str | None, canonical: str) -> None:
    assert str(parse_split(spec)) == canonical


@pytest.mark.parametrize(
    ("spec", "message"),
    [("kfold:5", "unknown split 'kfold:5'"), ("loo:0.5", "takes no shares"),
     ("ratio:0.8,0.2", "needs 3 comma-separated shares"), ("ratio", "needs 3"),
     ("ratio:0.8,0.1,x", "shares must be numbers"), ("ratio:0.8,0.1,0.2", "must sum to 1"),
     ("ratio:1.5,-0.25,-0.25", "from 0 to 1"), ("ratio:0,0.5,0.5", "train share must be above 0"),
     ("temporal:0.8", "needs 2"), ("temporal:0.8,0.2", "train \\+ valid below 1"),
     ("ratio-time:nan,0.5,0.5", "from 0 to 1")],
)
def test_parse_split_refuses_bad_specs_with_a_one_line_config_error(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_split(spec)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("spec", SPECS)
def test_every_interaction_is_in_exactly_one_part(spec: str) -> None:
    d = many()
    s = make_split(d, spec, seed=1)
    everything = sorted(zip(d.user_ids.tolist(), d.item_ids.tolist(), strict=True))
    parts = entries(s.train) + entries(s.held_out("valid")) + entries(s.held_out("test"))
    assert sorted(parts) == everything
    assert np.bincount(s.part, minlength=3).sum() == d.num_interactions
    assert s.spec == spec


@pytest.mark.parametrize("spec", ["ratio:0.8,0.1,0.1", "ratio-time:0.8,0.1,0.1"])
def test_ratio_splits_give_each_user_its_shares(spec: str) -> None:
    d = many(users=10, per_user=20)
    s = make_split(d, spec, seed=0)
    users = np.arange(1, d.num_users + 1)
    assert s.train.lengths()[users].tolist() == [16] * 10
    assert s.held_out("valid").lengths()[users].tolist() == [2] * 10
    assert s.held_out("test").lengths()[users].tolist() == [2] * 10
    assert s.evaluated_users("valid").tolist() == users.tolist() == s.evaluated_users("test").tolist()


def test_ratio_split_gives_a_small_user_one_test_and_one_valid_item_while_train_keeps_one() -> None:
    d = domain_from_tokens("small", np.array(["u"] * 3 + ["v"] * 2 + ["w"]), np.array(list("abcabc")))
    s = make_split(d, "ratio:0.8,0.1,0.1")
    u, v, w = (d.users.index(x) for x in "uvw")
    lengths = [[int(seq.lengths()[x]) for x in (u, v, w)] for seq in (s.train, s.held_out("valid"), s.held_out("test"))]
    assert lengths == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert s.evaluated_users("test").tolist() == sorted([u, v]) and s.evaluated_users("valid").tolist() == [u]


def test_ratio_time_split_keeps_each_users_parts_in_time_order() -> None:
    d = many()
    s = make_split(d, "ratio-time:0.6,0.2,0.2")
    for user in range(1, d.num_users + 1):
        mine = d.user_ids == user
        latest = [d.timestamps[mine & (s.part == p)] for p in (0, 1, 2)]
        assert latest[0].max() < latest[1].min() and latest[1].max() < latest[2].min()


def test_ratio_split_is_reproducible_by_seed() -> None:
    d = many()
    a, b, c = (make_split(d, "ratio:0.8,0.1,0.1", seed=seed) for seed in (5, 5, 6))
    assert a.part.tolist() == b.part.tolist()
    assert a.part.tolist() != c.part.tolist()
    time_a, time_c = (make_split(d, "ratio-time:0.8,0.1,0.1", seed=seed) for seed in (5, 6))
    assert time_a.part.tolist() == time_c.part.tolist()  # in time order, the seed plays no part


def test_temporal_split_puts_no_future_interaction_in_train() -> None:
    d = many()
    s = make_split(d, "temporal:0.8,0.1")
    train, valid, test = (d.timestamps[s.part == p] for p in (0, 1, 2))
    assert train.max() < valid.min() and valid.max() < test.min()
    assert (len(train), len(valid), len(test)) == (480, 60, 60)
    # evaluated users have a history before the part: the train part for valid, train and valid for test
    for user in s.evaluated_users("test"):
        assert len(s.history("test").row(user)) == ((d.user_ids == user) & (s.part < 2)).sum() > 0


def test_temporal_split_sends_interactions_at_a_cut_to_the_later_part() -> None:
    d = domain_from_tokens("ties", np.array(list("uuuuvv")), np.array(list("abcdab")),
                           np.array([1.0, 2.0, 2.0, 3.0, 2.0, 3.0]))
    s = make_split(d, "temporal:0.2,0.5")  # cuts at the quantiles 0.2 (2.0) and 0.7 (2.5)
    assert s.part.tolist() == [0, 1, 1, 2, 1, 2]


def test_test_history_is_train_and_valid_in_time_order() -> None:
    d = many()
    s = make_split(d, "ratio:0.6,0.2,0.2", seed=2)
    order = np.lexsort((d.timestamps, d.user_ids))
    for user in (1, 7, 30):
        mine = order[(d.user_ids[order] == user) & (s.part[order] < 2)]
        assert s.history("test").row(user).tolist() == d.item_ids[mine].tolist()
        assert s.history("valid").row(user).tolist() == s.train.row(user).tolist()


def test_make_split_loo_is_leave_one_out() -> None:
    d = toy()
    a, b = make_split(d), leave_one_out(d)
    assert a.valid.tolist() == b.valid.tolist() and a.test.tolist() == b.test.tolist()
    assert entries(a.train) == entries(b.train) and a.spec == "loo"
    assert entries(a.held_out("test")) == [(u, int(b.test[u])) for u in b.evaluated_users("test")]


def test_keep_train_fraction_keeps_the_split_spec_and_held_out_items() -> None:
    d = many()
    s = make_split(d, "ratio:0.8,0.1,0.1", seed=0)
    kept = keep_train_fraction(s, 0.5, seed=0)
    assert kept.spec == s.spec and len(kept.train_users) == 15
    assert entries(kept.held_out("test")) == entries(s.held_out("test"))


def test_require_evaluated_users_names_the_split_when_nobody_can_be_evaluated() -> None:
    d = domain_from_tokens("flat", np.array(list("uuvv")), np.array(list("abab")), np.array([1.0, 1.0, 1.0, 1.0]))
    with pytest.raises(DataError, match="under split 'temporal:0.5,0.2' no user has both a test item and a history"):
        require_evaluated_users(make_split(d, "temporal:0.5,0.2"))

from __future__ import annotations

import time

import numpy as np

from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains


def test_shapes_overlap_and_features() -> None:
    start = time.perf_counter()
    source, target = synthetic_domains(seed=0)
    assert time.perf_counter() - start < 1.0
    assert (source.name, target.name) == ("source", "target")
    assert source.num_users == 800 and target.num_users == 200
    assert source.num_interactions > 5 * target.num_interactions
    shared = set(source.items.tokens[1:]) & set(target.items.tokens[1:])
    assert len(shared) > 50
    titles = set(source.item_features["title"][1:]) & set(target.item_features["title"][1:])
    assert len(titles) == len(shared)
    for d in (source, target):
        assert d.ratings is not None and d.ratings.min() >= 1 and d.ratings.max() <= 5
        assert np.bincount(d.user_ids)[1:].min() >= 3
        assert d.timestamps.min() > 1.5e9
        # no repeated (user, item) pairs
        assert (
            len(set(zip(d.user_ids.tolist(), d.item_ids.tolist(), strict=True)))
            == d.num_interactions
        )


def test_deterministic_by_seed() -> None:
    a = synthetic_domains(seed=7)
    b = synthetic_domains(seed=7)
    c = synthetic_domains(seed=8)
    assert [d.fingerprint() for d in a] == [d.fingerprint() for d in b]
    assert a[0].fingerprint() != c[0].fingerprint()


def test_sequential_signal_beats_popularity() -> None:
    (source,) = synthetic_domains(
        num_domains=1, num_users=300, num_items=120, interactions_per_user=20, seed=1
    )
    split = leave_one_out(source)
    history = split.history("test")
    users = split.evaluated_users("test")
    popularity = np.bincount(split.train.items, minlength=len(source.items)).astype(float)
    transitions = np.zeros((len(source.items), len(source.items)))
    rows = history.rows()
    same = rows[1:] == rows[:-1]
    np.add.at(transitions, (history.items[:-1][same], history.items[1:][same]), 1.0)

    def hit_rate(score) -> float:
        hits = 0
        for u in users:
            s = score(history.row(u)).copy()
            s[0] = -np.inf
            s[history.row(u)] = -np.inf
            hits += int((s >= s[split.test[u]]).sum() - 1 < 10)
        return hits / len(users)

    assert (
        hit_rate(lambda h: transitions[h[-1]] + 1e-3 * popularity)
        > hit_rate(lambda h: popularity) + 0.1
    )


def test_more_domains() -> None:
    domains = synthetic_domains(num_domains=3, seed=0)
    assert [d.name for d in domains] == ["source", "aux1", "target"]
    assert domains[1].num_users < domains[0].num_users

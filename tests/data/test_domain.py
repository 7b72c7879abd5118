from __future__ import annotations

import numpy as np
import pytest

from recgraft.data.domain import PAD, Domain, Vocabulary, domain_from_tokens
from recgraft.errors import DataError


def make_domain() -> Domain:
    return domain_from_tokens(
        "toy",
        np.array(["u1", "u1", "u2", "u3", "u3", "u3"], dtype=object),
        np.array(["a", "b", "a", "c", "b", "d"], dtype=object),
        np.array([1.0, 2.0, 1.0, 5.0, 6.0, 7.0]),
        np.array([5, 4, 3, 2, 1, 5], dtype=np.float32),
        item_table=(
            np.array(["a", "b", "c", "d", "zz"], dtype=object),
            {
                "title": np.array(["A", "B", "C", "D", "Z"], dtype=object),
                "year": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
            },
        ),
        user_table=(np.array(["u2"], dtype=object), {"age": np.array([30.0])}),
    )


def test_vocabulary_basics() -> None:
    vocab = Vocabulary.from_tokens(["x", "y", "z"])
    assert len(vocab) == 4
    assert vocab.tokens[0] == PAD
    assert vocab.index("y") == 2
    assert vocab.token(3) == "z"
    assert vocab.lookup(["z", "nope", "x"]).tolist() == [3, 0, 1]
    assert vocab.lookup(np.array(["y"], dtype=object)).dtype == np.int64
    with pytest.raises(DataError, match="unknown token 'nope'"):
        vocab.index("nope")
    assert vocab == Vocabulary.from_tokens(["x", "y", "z"])
    assert hash(vocab) == hash(Vocabulary.from_tokens(["x", "y", "z"]))


def test_vocabulary_rejects_duplicates_and_missing_pad() -> None:
    with pytest.raises(DataError, match="duplicate"):
        Vocabulary.from_tokens(["x", "x"])
    with pytest.raises(DataError):
        Vocabulary(np.array(["x"], dtype=object))


def test_domain_from_tokens_ids_and_features() -> None:
    d = make_domain()
    assert (d.num_users, d.num_items, d.num_interactions) == (3, 4, 6)
    assert d.user_ids.tolist() == [1, 1, 2, 3, 3, 3]
    assert d.item_ids.tolist() == [1, 2, 1, 3, 2, 4]
    assert d.user_ids.dtype == np.int64 and d.timestamps.dtype == np.float64
    assert d.ratings is not None and d.ratings.dtype == np.float32
    assert d.item_features["title"].tolist() == ["", "A", "B", "C", "D"]
    assert np.isnan(d.item_features["year"][0]) and d.item_features["year"][1:].tolist() == [
        1,
        2,
        3,
        4,
    ]
    age = d.user_features["age"]
    assert np.isnan(age[1]) and age[2] == 30.0


def test_fingerprint_stable_and_sensitive() -> None:
    a, b = make_domain(), make_domain()
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    b.item_features = dict(reversed(list(b.item_features.items())))
    assert a.fingerprint() == b.fingerprint()  # dict order does not matter
    b.timestamps = b.timestamps + 1
    assert a.fingerprint() != b.fingerprint()


def test_subset_reindexes_and_features_follow() -> None:
    d = make_domain()
    sub = d.subset(d.user_ids != 1)  # drop u1 (the only user of nothing exclusive)
    assert sub.num_users == 2 and sub.users.tokens.tolist() == [PAD, "u2", "u3"]
    assert sub.items.tokens.tolist() == [PAD, "a", "b", "c", "d"]
    sub2 = d.subset(d.item_ids != 2)  # drop item b
    assert sub2.items.tokens.tolist() == [PAD, "a", "c", "d"]
    assert sub2.item_ids.tolist() == [1, 1, 2, 3]
    assert sub2.item_features["title"].tolist() == ["", "A", "C", "D"]
    assert sub2.user_features["age"].shape == (len(sub2.users),)
    with pytest.raises(DataError):
        d.subset(np.ones(3, dtype=bool))


def test_domain_rejects_misaligned_arrays() -> None:
    d = make_domain()
    with pytest.raises(DataError, match="timestamps"):
        Domain("x", d.user_ids, d.item_ids, d.timestamps[:2], None, d.users, d.items)
    with pytest.raises(DataError, match="feature 'f'"):
        Domain(
            "x", d.user_ids, d.item_ids, d.timestamps, None, d.users, d.items, {"f": np.zeros(2)}
        )


def test_domain_refuses_non_finite_timestamps() -> None:
    with pytest.raises(DataError, match="timestamps must be finite numbers; interaction 1 has nan"):
        domain_from_tokens("d", np.array(["u", "u"]), np.array(["a", "b"]), np.array([1.0, np.nan]))

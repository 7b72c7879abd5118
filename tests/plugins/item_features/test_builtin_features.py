"""The built-in item features: tokens, number, text and vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recgraft.plugin_manager import catalog
from recgraft.testing import ItemFeatureContract


def build(kind: str, values: np.ndarray, dim: int = 4, **config):
    cls = catalog().get("item_feature", kind)
    parsed = catalog().config("item_feature", kind, config)
    return cls(parsed, dim, cls.fit(parsed, values))


def test_tokens_keep_a_source_vocabulary_and_leave_unknown_tokens_out() -> None:
    feature = build("tokens", np.array(["", "Action Comedy", "Drama", "Action"], dtype=object))
    assert feature.state["vocabulary"] == ["Action", "Comedy", "Drama"]  # by count, then name
    inputs = feature.inputs(np.array(["", "Comedy Western", "Western"], dtype=object))
    assert inputs[1].tolist()[:2] == [2, 0] and inputs[2].sum() == 0
    assert torch.count_nonzero(feature(inputs)[2]) == 0  # no known token: no vector


def test_numbers_fall_in_source_quantile_buckets_and_missing_ones_in_none() -> None:
    years = np.array([np.nan, *range(1950, 2000)], dtype=np.float64)
    feature = build("number", years, buckets=5)
    assert len(feature.state["edges"]) == 4
    buckets = feature.inputs(np.array(["", "1951", "1999", "unknown"], dtype=object)).tolist()
    assert buckets[0] == 0 and buckets[3] == 0
    assert 1 <= buckets[1] < buckets[2] <= 5


def test_numbers_as_text_are_inferred_as_numbers_despite_a_stray_typo() -> None:
    from recgraft.item_features import infer_kind

    years = np.array(["", *[str(1900 + i) for i in range(60)], "unkonwn"], dtype=object)
    assert infer_kind(years) == "number"
    assert infer_kind(np.array(["", "Drama", "Action Drama"] * 30, dtype=object)) == "tokens"


def test_normalised_numbers_map_the_z_score() -> None:
    feature = build("number", np.array([np.nan, 1.0, 2.0, 3.0]), encoding="normalise")
    inputs = feature.inputs(np.array([np.nan, 2.0, 4.0]))
    assert inputs[:, 1].tolist() == [1.0, 0.0, 0.0]
    assert inputs[1, 0] == pytest.approx(0.0) and inputs[2, 0] > 0


def test_text_hashes_words_and_trigrams_the_same_way_every_time() -> None:
    feature = build("text", np.array(["", "Toy Story"], dtype=object), buckets=1000)
    first = feature.inputs(np.array(["Toy Story", "toy story", "Heat"], dtype=object))
    assert torch.equal(first[0], first[1])  # lowercased
    assert torch.equal(first, feature.inputs(np.array(["Toy Story", "toy story", "Heat"], dtype=object)))
    assert int((first[0] > 0).sum()) == 2 + 3 + 5  # two words, the trigrams of '<toy>' and '<story>'
    assert first[0, 0] == 1 + __import__("zlib").crc32(b"w:toy") % 1000  # stable across machines


def test_vectors_are_projected_from_unit_length() -> None:
    vectors = np.array([[0, 0], [3, 4], [6, 8]], dtype=np.float32)
    feature = build("vectors", vectors)
    inputs = feature.inputs(vectors)
    assert torch.allclose(inputs[1], inputs[2]) and torch.allclose(inputs[1].norm(), torch.tensor(1.0))
    assert torch.count_nonzero(inputs[0]) == 0


class TestTokens(ItemFeatureContract):
    component = "tokens"
    values = np.array(["", "Action Comedy", "Drama", None, "Action"], dtype=object)


class TestNumber(ItemFeatureContract):
    component = "number"
    values = np.array([np.nan, 1995.0, 1960.0, np.nan, 2000.0])


class TestNormalisedNumber(ItemFeatureContract):
    component = "number"
    config = {"encoding": "normalise"}
    values = np.array(["", "1995", "1960", "V", "2000"], dtype=object)


class TestText(ItemFeatureContract):
    component = "text"
    config = {"buckets": 64}
    values = np.array(["", "Toy Story (1995)", "Heat", None, "Jumanji"], dtype=object)


class TestVectors(ItemFeatureContract):
    component = "vectors"
    values = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)

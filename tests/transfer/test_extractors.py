"""Feature extractors: global, local (pooled hidden layers) and concat."""

from __future__ import annotations

import pytest
import torch

from recgraft.errors import ConfigError
from recgraft.plugin_manager import catalog
from recgraft.testing import ExtractorContract


def extractor(name: str, **config):
    return catalog().get("extractor", name)(catalog().config("extractor", name, config))


@pytest.fixture
def encoder(pretrained):
    return pretrained.encoder.eval()


HISTORY = torch.tensor([[0, 0, 3, 5, 7], [1, 2, 3, 4, 5]])


def test_global_is_the_user_vector_and_its_sequence_ends_with_it(encoder) -> None:
    global_ = extractor("global")
    with torch.no_grad():
        features = global_.extract(encoder, HISTORY)
        assert torch.allclose(features, encoder(HISTORY))
        assert torch.allclose(global_.extract_sequence(encoder, HISTORY)[:, -1], features, atol=1e-6)
    assert global_.output_dim(encoder) == 16


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_local_pools_named_layers(encoder, pooling) -> None:
    local = extractor("local", layers=["embedding", "block1"], pooling=pooling)
    with torch.no_grad():
        features = local.extract(encoder, HISTORY)
        sequence = local.extract_sequence(encoder, HISTORY)
    assert features.shape == (2, 32) == (2, local.output_dim(encoder))
    assert torch.allclose(sequence[:, -1], features, atol=1e-5)
    if pooling == "mean":  # padding does not count: the first user's mean is over 3 items
        layers = encoder.hidden_layers(HISTORY)
        assert torch.allclose(features[0, :16], layers["embedding"][0, 2:].mean(0), atol=1e-5)


def test_local_rejects_unknown_layers_and_pooling(encoder) -> None:
    with pytest.raises(ConfigError, match="extractor 'local': layers: 'block9'.*block1"):
        extractor("local", layers=["block9"]).extract(encoder, HISTORY)
    with pytest.raises(ConfigError, match="extractor 'local': pooling"):
        extractor("local", pooling="max")


def test_concat_joins_its_parts(encoder) -> None:
    concat = extractor("concat", extractors=[{"name": "global"}, {"name": "local", "config": {"layers": ["block1"]}}])
    with torch.no_grad():
        features = concat.extract(encoder, HISTORY)
    assert features.shape == (2, 32) == (2, concat.output_dim(encoder))
    assert concat.extract_sequence(encoder, HISTORY).shape == (2, 5, 32)


class TestGlobalContract(ExtractorContract):
    component = "global"


class TestLocalContract(ExtractorContract):
    component = "local"


class TestLocalMeanContract(ExtractorContract):
    component = "local"
    config = {"pooling": "mean"}


class TestConcatContract(ExtractorContract):
    component = "concat"

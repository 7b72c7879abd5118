"""Every built-in encoder runs the shipped encoder contract suite (recgraft.testing), plus the
behaviour the built-ins share beyond the contract."""

from __future__ import annotations

import pytest
import torch

from recgraft.errors import ConfigError
from recgraft.plugin_manager import catalog
from recgraft.pretrain import build_encoder, pretrain
from recgraft.testing import TOY_ENCODERS, EncoderContract

NUM_ITEMS = 30


class TestTransformer(EncoderContract):
    component = "transformer"
    config = TOY_ENCODERS["transformer"]


class TestLSTM(EncoderContract):
    component = "lstm"
    config = TOY_ENCODERS["lstm"]


class TestGAN(EncoderContract):
    component = "gan"
    config = TOY_ENCODERS["gan"]


@pytest.fixture(params=sorted(TOY_ENCODERS))
def name(request) -> str:
    return request.param


def test_unknown_config_field_is_refused_before_building(name: str) -> None:
    with pytest.raises(ConfigError, match=f"encoder '{name}': hidden_size"):
        build_encoder(name, {"hidden_size": 3}, NUM_ITEMS)


def test_same_seed_gives_the_same_weights_on_cpu(name: str, small_split) -> None:
    runs = [
        pretrain(small_split, name, TOY_ENCODERS[name], {"epochs": 1, "batch_size": 64, "seed": 3}, device="cpu")
        for _ in range(2)
    ]
    for (key, a), (_, b) in zip(runs[0].encoder.state_dict().items(), runs[1].encoder.state_dict().items(), strict=False):
        assert torch.equal(a, b), key


def test_resize_items_starts_new_items_as_the_average_inherited_item(name: str) -> None:
    encoder = build_encoder(name, TOY_ENCODERS[name], NUM_ITEMS)
    old = encoder.item_vectors().detach().clone()
    source_rows = torch.full((41,), -1, dtype=torch.long)
    source_rows[0] = 0
    source_rows[1:11] = torch.arange(21, 31)
    encoder.resize_items(40, source_rows)
    new = encoder.item_vectors().detach()
    torch.testing.assert_close(new[11:], old[21:31].mean(0).expand(30, -1))


def test_registered_in_the_catalogue() -> None:
    assert {"transformer", "lstm", "gan"} <= set(catalog().names("encoder"))

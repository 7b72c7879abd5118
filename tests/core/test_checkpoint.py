"""Checkpoint bytes: safetensors plus metadata, loadable without the training data."""

from __future__ import annotations

import pytest
import torch

from recgraft.checkpoint import CheckpointFormatError, build_encoder, from_bytes, read_metadata
from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.pretrain import build_encoder as fresh_encoder
from recgraft.pretrain import pretrain


@pytest.fixture(scope="module")
def trained():
    split = leave_one_out(synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=2)[0])
    return pretrain(split, "lstm", {"embedding_dim": 8, "hidden_dim": 8, "max_length": 8}, {"epochs": 1}, device="cpu")


def test_round_trip_rebuilds_an_identical_encoder(trained) -> None:
    contents = from_bytes(trained.to_bytes())
    rebuilt = build_encoder(contents).eval()
    history = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]])
    torch.testing.assert_close(rebuilt(history), trained.encoder.eval()(history))


def test_metadata_carries_vocabulary_config_and_provenance(trained) -> None:
    metadata = read_metadata(trained.to_bytes())
    assert metadata["components"]["encoder"]["name"] == "lstm"
    assert metadata["items"][0] == "[PAD]" and len(metadata["items"]) == trained.domain.num_items + 1
    assert metadata["device"] == "cpu" and metadata["precision"] == "float32"


def test_an_encoder_pretrained_from_an_instance_is_recorded_by_its_plugin_name() -> None:
    split = leave_one_out(synthetic_domains(num_users=(60, 20), num_items=(30, 20), seed=3)[0])
    instance = fresh_encoder("transformer", {"embedding_dim": 8, "max_length": 8, "num_layers": 1}, split.domain.num_items)
    pretrained = pretrain(split, instance, train={"epochs": 1}, device="cpu")
    contents = from_bytes(pretrained.to_bytes())
    assert contents.metadata["components"]["encoder"]["name"] == "transformer"
    assert type(build_encoder(contents)) is type(instance)


def test_bytes_that_are_not_a_checkpoint_are_refused() -> None:
    with pytest.raises(CheckpointFormatError):
        read_metadata(b"definitely not safetensors")

"""From checkpoint bytes back to modules: one function for pretrained and transferred checkpoints."""

from __future__ import annotations

import pytest
import torch

from recgraft.checkpoint import from_bytes
from recgraft.checkpoint.modules import encoder_from_checkpoint, is_transfer, model_from_checkpoint
from recgraft.data.split import keep_train_fraction, leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.encoder import Encoder
from recgraft.pretrain import pretrain
from recgraft.transfer import Transfer
from recgraft.transfer_model import TransferModel

TINY = {"embedding_dim": 8, "max_length": 8, "num_layers": 1, "num_heads": 1}


@pytest.fixture(scope="module")
def checkpoints() -> tuple[bytes, bytes]:
    source, target = synthetic_domains(num_users=(80, 40), num_items=(40, 30), seed=4)
    pretrained = pretrain(leave_one_out(source), "transformer", TINY, {"epochs": 1}, device="cpu")
    split = keep_train_fraction(leave_one_out(target), 0.5, 0)
    transferred = Transfer.from_pretrained(pretrained, strategy="finetune").fit(split, {"epochs": 1}, device="cpu")
    return pretrained.to_bytes(), transferred.to_bytes()


def test_a_pretrained_checkpoint_becomes_its_encoder(checkpoints) -> None:
    contents = from_bytes(checkpoints[0])
    model = model_from_checkpoint(contents)
    assert not is_transfer(contents) and isinstance(model, Encoder)


def test_a_transferred_checkpoint_becomes_its_whole_model_in_eval_mode(checkpoints) -> None:
    contents = from_bytes(checkpoints[1])
    model = model_from_checkpoint(contents)
    assert is_transfer(contents) and isinstance(model, TransferModel) and not model.training


def test_the_encoder_of_a_transferred_checkpoint_has_the_transferred_weights(checkpoints) -> None:
    contents = from_bytes(checkpoints[1])
    encoder = encoder_from_checkpoint(contents)
    model = model_from_checkpoint(contents)
    assert isinstance(model, TransferModel)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, model.encoder.state_dict()[key])

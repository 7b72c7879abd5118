"""The transformer's single-head inference path computes what its training path computes."""

from __future__ import annotations

import torch

from recgraft.pretrain import build_encoder

NUM_ITEMS = 30


def single_head_encoder():
    torch.manual_seed(0)
    return build_encoder("transformer", {"embedding_dim": 16, "num_heads": 1, "dropout": 0.0, "max_length": 12},
                         NUM_ITEMS)


def histories() -> torch.Tensor:
    items = torch.randint(1, NUM_ITEMS + 1, (5, 12), generator=torch.Generator().manual_seed(1))
    items[0, :5] = 0
    items[1, :11] = 0
    return items


@torch.no_grad()
def test_folded_inference_matches_the_training_path_for_user_vectors() -> None:
    encoder = single_head_encoder()
    expected = encoder.train()(histories())  # dropout 0: training mode only changes the attention path
    torch.testing.assert_close(encoder.eval()(histories()), expected, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_folded_inference_matches_the_training_path_at_every_position() -> None:
    encoder = single_head_encoder()
    expected = encoder.train().sequence_output(histories())
    torch.testing.assert_close(encoder.eval().sequence_output(histories()), expected, rtol=1e-5, atol=1e-5)

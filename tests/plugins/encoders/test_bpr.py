"""BPR-MF with users as their histories: the encoder contract, and it beats random."""

from __future__ import annotations

import torch

from recgraft.pretrain import build_encoder, evaluate_encoder, pretrain
from recgraft.testing import EncoderContract

from .test_baselines import clustered  # noqa: F401  (the fixture)


class TestBPR(EncoderContract):
    component = "bpr"
    config = {"embedding_dim": 16, "max_length": 12}


def test_bpr_beats_random_on_a_known_signal(clustered) -> None:  # noqa: F811
    run = pretrain(clustered, "bpr", {"embedding_dim": 16},
                   {"epochs": 30, "batch_size": 32, "learning_rate": 0.01}, device="cpu")
    torch.manual_seed(0)
    random = build_encoder("bpr", {"embedding_dim": 16}, clustered.domain.num_items)
    baseline = evaluate_encoder(random, clustered, "test", torch.device("cpu"))
    assert run.test["ndcg@10"] > baseline["ndcg@10"] + 0.05, (run.test, baseline)

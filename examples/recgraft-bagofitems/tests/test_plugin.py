"""The plugin's own tests: run with the plugin installed (``pip install -e .[test]; pytest``)."""

from __future__ import annotations

import torch

from recgraft.data.synthetic import synthetic_domains
from recgraft.plugin_manager import catalog
from recgraft.pretrain import build_encoder, pretrain
from recgraft.strategy import TransferContext
from recgraft.testing import EncoderContract, StrategyContract
from recgraft.transfer import Transfer

TOY = {"embedding_dim": 16, "hidden_dim": 16, "max_length": 10}


class TestBagEncoderContract(EncoderContract):
    """recgraft's encoder contract suite, run on the plugin's encoder."""

    component = "bag"
    config = TOY


class TestEmbeddingsOnlyContract(StrategyContract):
    """recgraft's strategy contract suite, run on the plugin's strategy over its own encoder."""

    component = "embeddings-only"
    encoders = {"bag": TOY}


def test_components_are_registered_through_the_entry_point() -> None:
    assert catalog().entry("encoder", "bag").source == "entry point"
    assert catalog().entry("strategy", "embeddings-only").plugin == "bagofitems"


def test_bag_encoder_gives_user_vectors_and_is_causal() -> None:
    encoder = build_encoder("bag", TOY, 20).eval()
    history = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    assert encoder(history).shape == (2, 16)
    changed = history.clone()
    changed[:, -1] = 7
    with torch.no_grad():
        torch.testing.assert_close(encoder.sequence_output(history)[:, :-1], encoder.sequence_output(changed)[:, :-1])


def test_embeddings_only_copies_item_tables_and_nothing_else() -> None:
    pretrained = build_encoder("bag", TOY, 20)
    extractor = catalog().get("extractor", "global")()

    def make_head(feature_dim: int, item_dim: int):
        head_cls = catalog().get("head", "dot")
        return head_cls(catalog().config("head", "dot"), feature_dim, item_dim)

    strategy = catalog().get("strategy", "embeddings-only")()
    model = strategy.build(TransferContext(pretrained, "bag", extractor, make_head, 20))
    torch.testing.assert_close(model.encoder.item_vectors(), pretrained.item_vectors())
    assert not torch.equal(model.encoder.mlp[1].weight, pretrained.mlp[1].weight)


def test_a_transfer_with_the_plugin_strategy_runs_end_to_end() -> None:
    source, target = synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=0)
    pretrained = pretrain(source, "bag", TOY, {"epochs": 1}, device="cpu")
    result = Transfer.from_pretrained(pretrained, strategy="embeddings-only").fit(target, {"epochs": 1}, device="cpu")
    assert result.strategy == "embeddings-only"
    assert 0.0 <= result.evaluate("test")["ndcg@10"] <= 1.0

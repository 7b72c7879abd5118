"""Heads: dot (identity or projection), mlp (identity start), sigmoid (the seed's binary head)."""

from __future__ import annotations

import torch

from recgraft.plugin_manager import catalog
from recgraft.testing import HeadContract
from recgraft.transfer import Transfer

from .conftest import FAST


def head(name: str, feature_dim: int, item_dim: int, **config):
    return catalog().get("head", name)(catalog().config("head", name, config), feature_dim, item_dim)


def test_dot_is_the_identity_when_sizes_match_and_projects_otherwise() -> None:
    features, items = torch.randn(3, 8), torch.randn(11, 8)
    assert torch.allclose(head("dot", 8, 8)(features, items), features @ items.T)
    assert torch.allclose(head("dot", 8, 8, project=True)(features, items), features @ items.T, atol=1e-6)
    assert head("dot", 12, 8)(torch.randn(3, 12), items).shape == (3, 11)


def test_mlp_starts_from_the_identity_and_learns() -> None:
    mlp = head("mlp", 8, 8, hidden_dim=16)
    features, items = torch.randn(4, 8), torch.randn(11, 8)
    assert torch.allclose(mlp.eval()(features, items), features @ items.T)
    loss = mlp.loss(features, torch.tensor([1, 2, 3, 4]), items, None)
    loss.backward()
    assert mlp.network[-1].weight.grad is not None and mlp.network[-1].weight.grad.abs().sum() > 0


def test_sigmoid_scores_pairs_and_the_catalogue_consistently() -> None:
    sigmoid = head("sigmoid", 8, 6, hidden_dim=4)
    features, items = torch.randn(3, 8), torch.randn(10, 6)
    full = sigmoid(features, items)
    candidates = torch.tensor([[1, 4], [2, 9], [0, 3]])
    assert torch.allclose(sigmoid.pair_logits(features, items[candidates]), full.gather(1, candidates), atol=1e-5)
    assert sigmoid.loss(features, torch.tensor([1, 2, 3]), items, torch.zeros(10)).item() > 0


def test_sigmoid_head_learns_the_binary_task(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="direct", head="sigmoid")
    result = transfer.fit(target_split, {**FAST, "learning_rate": 1e-2, "epochs": 10, "patience": 10}, device="cpu")
    test = result.evaluate("test")
    binary = test["binary"]
    assert set(binary) >= {"accuracy", "precision", "recall", "f1", "auc"}
    assert binary["auc"] > 0.75 and binary["count"] == 2 * test["users"]


def test_sigmoid_head_on_a_ratio_split_judges_every_held_out_item_against_a_sampled_one(pretrained, domains) -> None:
    from recgraft.data.split import make_split

    split = make_split(domains[1], "ratio:0.6,0.2,0.2", seed=0)
    transfer = Transfer.from_pretrained(pretrained, strategy="direct", head="sigmoid")
    result = transfer.fit(split, {"epochs": 8, "batch_size": 32, "learning_rate": 5e-3})
    test = result.evaluate("test")
    held = split.held_out("test").lengths()[split.evaluated_users("test")]
    binary = test["binary"]
    assert binary["count"] == 2 * int(held.sum()) > 2 * test["users"]  # several held-out items per user
    assert binary["auc"] > 0.6 and 0 <= binary["f1"] <= 1
    assert test["ndcg@10"] > 0.05  # it ranks the whole catalogue too


class TestDotContract(HeadContract):
    component = "dot"


class TestDotProjectedContract(HeadContract):
    component = "dot"
    config = {"project": True}


class TestMLPContract(HeadContract):
    component = "mlp"


class TestSigmoidContract(HeadContract):
    component = "sigmoid"

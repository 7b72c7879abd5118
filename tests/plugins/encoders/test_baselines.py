"""The closed-form baselines (popular, EASE, ItemKNN): the encoder contract, the closed form,
the choice on validation, and each against random on a task with a known signal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.data.split import leave_one_out
from recgraft.plugin_manager import catalog
from recgraft.plugins.encoders.baselines import EASEEncoder, ease_weights, knn_weights
from recgraft.pretrain import build_encoder, pretrain
from recgraft.testing import EncoderContract

FAST = {"epochs": 10, "batch_size": 32, "patience": 10}


class TestEASE(EncoderContract):
    component = "ease"
    config = {"max_length": 12, "l2_grid": [1.0, 10.0]}


class TestItemKNN(EncoderContract):
    component = "itemknn"
    config = {"max_length": 12, "neighbours_grid": [2, 5]}


class TestPopular(EncoderContract):
    component = "popular"
    config = {"max_length": 12}

    def test_a_few_steps_reduce_the_loss(self) -> None:
        pytest.skip("popular ignores the history by design: no next-item pattern to learn")


def test_registered_in_the_catalogue() -> None:
    assert {"popular", "ease", "itemknn"} <= set(catalog().names("encoder"))


def test_ease_closed_form_matches_a_direct_solve() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((40, 9)) < 0.3).astype(np.float64)
    l2 = 2.5
    p = np.linalg.inv(x.T @ x + l2 * np.eye(9))
    expected = np.eye(9) - p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    got = ease_weights(torch.from_numpy(x.T @ x).float(), l2).double().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.allclose(np.diag(got), 0.0)
    # and each column of B minimises ||x_j - X b_j||^2 + l2 ||b_j||^2 with b_jj = 0
    for j in range(9):
        others = [i for i in range(9) if i != j]
        a = x[:, others]
        direct = np.linalg.solve(a.T @ a + l2 * np.eye(8), a.T @ x[:, j])
        np.testing.assert_allclose(got[others, j], direct, atol=1e-4)


def test_knn_keeps_the_k_largest_cosines_per_item() -> None:
    x = torch.tensor([[0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]], dtype=torch.float32)
    weights = knn_weights(x.T @ x, 1)
    assert (weights > 0).sum(1).tolist() == [0, 1, 1, 1]
    assert weights[1, 2] == pytest.approx(2 / (2**0.5 * 3**0.5))
    assert torch.all(torch.diagonal(weights) == 0)


def clustered_domain(seed: int = 0, users: int = 400, items: int = 60, clusters: int = 4) -> Domain:
    """Users each draw 6 items from their cluster of items, the popular ones (low ids in the
    cluster) far more often: co-occurrence and popularity are the signals."""
    rng = np.random.default_rng(seed)
    rows = []
    size = items // clusters
    weights = 0.75 ** np.arange(size)
    for user in range(users):
        cluster = user % clusters
        picked = rng.choice(size, size=6, replace=False, p=weights / weights.sum()) + cluster * size
        rows += [(f"u{user}", f"i{item}", float(user * 10 + t)) for t, item in enumerate(picked)]
    users_, items_, times = (np.array(column) for column in zip(*rows, strict=True))
    return domain_from_tokens("clustered", users_, items_, times.astype(np.float64))


@pytest.fixture(scope="module")
def clustered():
    return leave_one_out(clustered_domain())


@pytest.mark.parametrize("name", ["popular", "ease", "itemknn"])
def test_beats_random_on_a_known_signal(name: str, clustered) -> None:
    run = pretrain(clustered, name, {}, FAST, device="cpu")
    torch.manual_seed(0)
    random = build_encoder(name, {}, clustered.domain.num_items)
    with torch.no_grad():
        random.weight.normal_()
    from recgraft.pretrain import evaluate_encoder

    baseline = evaluate_encoder(random, clustered, "test", torch.device("cpu"))
    assert run.test["ndcg@10"] > baseline["ndcg@10"] + 0.02, (run.test, baseline)
    if name != "popular":  # the clusters: far better than popularity's ~10/40 recall
        assert run.test["hr@10"] > 0.6


def test_the_grid_is_tried_one_candidate_per_epoch_and_the_best_kept(clustered) -> None:
    grid = [1.0, 30.0, 1e4]
    run = pretrain(clustered, "ease", {"l2_grid": grid}, {"epochs": 3, "batch_size": 32}, device="cpu")
    assert [round(r["candidate"]) for r in run.result.history] == [1, 30, 10000]
    scores = [r["valid_ndcg@10"] for r in run.result.history]
    best = int(np.argmax(scores))
    assert run.result.best_epoch == best + 1
    assert float(run.encoder.chosen) == grid[best]
    # the kept weights are the chosen candidate's closed form on the whole training split
    direct = EASEEncoder(run.encoder.config, clustered.domain.num_items)
    direct.load_state_dict(run.encoder.state_dict())
    torch.testing.assert_close(run.encoder.weight, direct.weight)
    assert run.result.valid["ndcg@10"] == pytest.approx(max(scores))


def test_a_grid_of_one_and_extra_epochs_change_nothing(clustered) -> None:
    run = pretrain(clustered, "itemknn", {"neighbours_grid": [5]}, {"epochs": 3, "batch_size": 32}, device="cpu")
    assert run.result.best_epoch == 1
    scores = {r["valid_ndcg@10"] for r in run.result.history}
    assert len(scores) == 1


def test_eval_every_above_one_is_refused(clustered) -> None:
    from recgraft.errors import ConfigError

    with pytest.raises(ConfigError, match="eval_every"):
        pretrain(clustered, "ease", {}, {"epochs": 2, "eval_every": 2}, device="cpu")


def test_checkpoint_round_trip_keeps_the_scores(clustered) -> None:
    from recgraft.checkpoint.format import from_bytes
    from recgraft.checkpoint.modules import model_from_checkpoint

    run = pretrain(clustered, "ease", {"l2_grid": [10.0]}, {"epochs": 1, "batch_size": 32}, device="cpu")
    loaded = model_from_checkpoint(from_bytes(run.to_bytes()))
    assert isinstance(loaded, EASEEncoder) and float(loaded.chosen) == 10.0
    history = torch.tensor([[0, 3, 5, 7], [1, 2, 3, 4]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.score_items(loaded(history)), run.encoder.score_items(run.encoder(history)))


def test_a_resumed_run_continues_the_grid(clustered, tmp_path) -> None:
    grid = {"l2_grid": [1.0, 30.0, 300.0]}
    whole = pretrain(clustered, "ease", grid, {"epochs": 3, "batch_size": 32}, device="cpu")
    state = tmp_path / "resume.pt"
    pretrain(clustered, "ease", grid, {"epochs": 2, "batch_size": 32}, device="cpu", resume=state)
    resumed = pretrain(clustered, "ease", grid, {"epochs": 3, "batch_size": 32}, device="cpu", resume=state)
    assert [r["candidate"] for r in resumed.result.history] == [1.0, 30.0, 300.0]
    assert resumed.result.best_epoch == whole.result.best_epoch
    torch.testing.assert_close(resumed.encoder.weight, whole.encoder.weight)

"""One scorer: ``score_histories`` scores a history the same alone, in any batch, and as
evaluation does; ``recommend``, ``recommend_batch`` and the service all go through it; only
finite scores are recommended."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recgraft.data import synthetic_domains
from recgraft.data.domain import Vocabulary
from recgraft.data.split import Sequences, leave_one_out
from recgraft.engine.batching import padded_histories
from recgraft.pretrain import pretrain
from recgraft.recommender import (
    Recommender,
    load_recommender,
    recommend_all,
    recommend_items,
    score_histories,
    top_items,
)

SOURCE = synthetic_domains(num_users=(60, 30), num_items=(40, 30), seed=0)[0]


@pytest.fixture(scope="module")
def models() -> dict[str, Recommender]:
    configs = {"transformer": {"max_length": 8, "embedding_dim": 8},
               "lstm": {"max_length": 8, "hidden_dim": 8, "embedding_dim": 8}}
    return {name: load_recommender(pretrain(SOURCE, name, config, {"epochs": 1}, device="cpu").to_bytes())
            for name, config in configs.items()}


histories = st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=20), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(batch=histories, encoder=st.sampled_from(["transformer", "lstm"]))
def test_a_history_scores_the_same_alone_and_in_any_batch(models: dict[str, Recommender], batch: list[list[int]],
                                                          encoder: str) -> None:
    model = models[encoder]
    together = score_histories(model.score, batch, model.max_length, model.device, model.padding_invariant)
    for row, history in enumerate(batch):
        alone = score_histories(model.score, [history], model.max_length, model.device, model.padding_invariant)
        torch.testing.assert_close(together[row], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("encoder", ["transformer", "lstm"])
def test_recommend_scores_a_history_as_evaluation_does(models: dict[str, Recommender], encoder: str) -> None:
    """Evaluation pads histories to max_length unless the encoder ignores padding; recommend
    must too (an LSTM's user vector depends on the padding before a short history)."""
    model = models[encoder]
    split = leave_one_out(SOURCE)
    users = split.evaluated_users("test")[:10]
    history = split.history("test")
    rows = [history.row(int(u))[-3:] for u in users]  # shorter than max_length
    short = Sequences(np.cumsum([0, *map(len, rows)]), np.concatenate(rows))
    evaluated = model.score(padded_histories(short, np.arange(len(users)), model.max_length)).float()
    for row in range(len(users)):
        ids = [int(i) for i in short.row(row)]
        top = model.recommend([str(model.items.token(i)) for i in ids], k=5)
        expected = top_items(evaluated[row][None], [ids], 5)[0]
        assert [t for t, _ in top] == [str(model.items.token(i)) for i, _ in expected]
        np.testing.assert_allclose([s for _, s in top], [s for _, s in expected], atol=1e-6)


def test_recommend_batch_equals_recommend(models: dict[str, Recommender]) -> None:
    model = models["transformer"]
    batch = [[1, 2, 3], [4], list(range(5, 20))]
    answers = model.recommend_batch(batch, k=4)
    for ids, answer in zip(batch, answers, strict=True):
        alone = model.recommend([str(model.items.token(i)) for i in ids], k=4)
        assert [t for t, _ in answer] == [t for t, _ in alone]


def test_exclude_history_false_keeps_history_items(models: dict[str, Recommender]) -> None:
    model = models["transformer"]
    everything = model.recommend_batch([[1, 2]], k=40, exclude_history=False)[0]
    without = model.recommend_batch([[1, 2]], k=40)[0]
    tokens = {str(model.items.token(1)), str(model.items.token(2))}
    assert tokens <= {t for t, _ in everything} and not tokens & {t for t, _ in without}
    assert len(everything) == 40 and len(without) == 38  # never padding, never more than there are


def test_items_without_a_finite_score_are_never_recommended() -> None:
    items = Vocabulary.from_tokens(["a", "b", "c", "d", "e"])
    raw = torch.tensor([[0.0, float("nan"), 0.5, float("inf"), 0.2, -0.1]])
    top = recommend_items(lambda histories: raw, items, 4, ["e"], k=10)
    assert [item for item, _ in top] == ["b", "d"]  # not a (NaN), c (inf), e (history)
    assert all(math.isfinite(score) for _, score in top)



def test_recommend_all_equals_recommend_for_each_user_of_a_domain_with_unknown_items() -> None:
    from recgraft.data.split import time_order

    source, target = synthetic_domains(num_users=(60, 20), num_items=(40, 30), seed=5)  # items partly shared
    trained = pretrain(source, "transformer", {"embedding_dim": 8, "max_length": 8, "num_heads": 1},
                       {"epochs": 1}, device="cpu")
    model = load_recommender(trained.to_bytes())
    table = recommend_all(model, target, k=4, batch_size=7)
    assert list(table.columns) == ["user", "rank", "item", "score"]
    order = time_order(target)
    for uid in range(1, target.num_users + 1):
        tokens = [target.items.token(int(i)) for i in target.item_ids[order][target.user_ids[order] == uid]]
        known = [t for t in tokens if model.items.lookup([t])[0] > 0]
        expected = model.recommend(known, k=4, strict=True)
        rows = table[table["user"] == target.users.token(uid)]
        assert rows["rank"].tolist() == list(range(1, len(expected) + 1))
        assert rows["item"].tolist() == [item for item, _ in expected]
        assert rows["score"].tolist() == pytest.approx([score for _, score in expected], abs=1e-5)

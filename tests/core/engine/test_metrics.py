from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recgraft.engine.metrics import (
    RankingMetrics,
    auc_score,
    binary_metrics,
    breakdown_by_history_length,
    exclude_items,
    held_out_ranks,
    mask_history,
    per_user_metrics,
    sampled_ranks,
    target_ranks,
)

INF = float("-inf")


def test_target_ranks_first_and_pessimistic_ties() -> None:
    scores = torch.tensor([[0.0, 0.9, 0.5, 0.1], [0.0, 0.3, 0.3, 0.3], [0.0, 0.2, 0.8, 0.8]])
    targets = torch.tensor([1, 2, 2])
    # row 0: target scores highest -> 0; row 1: two others tie (plus pad col 0 below) -> 2;
    # row 2: one tie ahead -> 1
    assert target_ranks(scores, targets).tolist() == [0, 2, 1]


def test_constant_model_gets_no_credit() -> None:
    scores = torch.zeros(3, 50)
    ranks = target_ranks(
        mask_history(scores, torch.zeros(3, 1, dtype=torch.long), torch.tensor([5, 6, 7])),
        torch.tensor([5, 6, 7]),
    )
    assert ranks.tolist() == [48, 48, 48]  # every other real item ties ahead
    m = RankingMetrics()
    m.add(ranks)
    assert m.result()["hr@20"] == 0.0


def test_mask_history_excludes_history_and_pad_not_target() -> None:
    scores = torch.tensor([[9.0, 5.0, 4.0, 3.0, 2.0]])
    history = torch.tensor([[1, 3, 0]])
    masked = mask_history(scores, history, torch.tensor([3]))
    assert masked.tolist() == [[INF, INF, 4.0, 3.0, 2.0]]  # target 3 kept although in history
    assert scores[0, 1] == 5.0  # not in place by default
    assert target_ranks(masked, torch.tensor([3])).tolist() == [1]
    out = exclude_items(scores, torch.tensor([[2]]), inplace=True)
    assert out is scores and scores.tolist() == [[INF, 5.0, INF, 3.0, 2.0]]


def test_ranking_metrics_hand_computed() -> None:
    m = RankingMetrics()
    m.add(torch.tensor([0, 3]))
    m.add(torch.tensor([12, 30]))  # beyond 10; 30 beyond 20
    r = m.result()
    assert r["users"] == 4
    assert r["hr@5"] == pytest.approx(2 / 4) and r["recall@5"] == r["hr@5"]
    assert r["ndcg@5"] == pytest.approx((1.0 + 1 / math.log2(5)) / 4)
    assert r["mrr@5"] == pytest.approx((1.0 + 1 / 4) / 4)
    assert r["hr@10"] == pytest.approx(2 / 4)
    assert r["hr@20"] == pytest.approx(3 / 4)
    assert r["ndcg@20"] == pytest.approx((1.0 + 1 / math.log2(5) + 1 / math.log2(14)) / 4)
    assert r["mrr@20"] == pytest.approx((1.0 + 1 / 4 + 1 / 13) / 4)
    assert r["precision@5"] == pytest.approx(2 / 4 / 5) and r["precision@20"] == pytest.approx(3 / 4 / 20)
    assert set(r) == {f"{m}@{k}" for m in ("hr", "ndcg", "mrr", "recall", "precision") for k in (5, 10, 20)} | {
        "users"
    }


def test_user_without_target_is_not_added() -> None:
    # targets 0 mean "no test item": callers select evaluated users only
    targets = torch.tensor([2, 0, 1])
    scores = torch.tensor([[0.0, 0.1, 0.9], [0.0, 0.5, 0.5], [0.0, 0.9, 0.1]])
    has = targets > 0
    m = RankingMetrics()
    m.add(target_ranks(scores[has], targets[has]))
    assert m.result()["users"] == 2 and m.result()["hr@5"] == 1.0
    assert RankingMetrics().result()["users"] == 0 and RankingMetrics().result()["ndcg@10"] == 0.0


def test_merge() -> None:
    a, b, both = RankingMetrics(), RankingMetrics(), RankingMetrics()
    a.add(torch.tensor([0, 7]))
    b.add(torch.tensor([25]))
    both.add(torch.tensor([0, 7, 25]))
    a.merge(b)
    assert a.result() == pytest.approx(both.result())


def test_sampled_ranks_respects_exclusion() -> None:
    g = torch.Generator().manual_seed(0)
    scores = torch.tensor([[0.0, 5.0, 1.0, 9.0, 2.0, 3.0]])
    targets = torch.tensor([2])
    # exclude item 3 (the only one above the target besides 1, 4, 5): negatives from {1, 4, 5}
    ranks = sampled_ranks(
        scores, targets, num_negatives=10, generator=g, exclude=torch.tensor([[3, 0]])
    )
    assert ranks.tolist() == [3]
    ranks = sampled_ranks(scores, torch.tensor([3]), num_negatives=2, generator=g)
    assert ranks.tolist() == [0]
    mask = torch.zeros_like(scores, dtype=torch.bool)
    mask[0, [1, 4, 5]] = True
    assert sampled_ranks(scores, targets, 3, g, exclude=mask).tolist() == [1]  # only item 3 left


def test_binary_metrics_hand_case() -> None:
    p = torch.tensor([0.9, 0.8, 0.4, 0.3, 0.6, 0.1])
    y = torch.tensor([1, 1, 1, 0, 0, 0])
    r = binary_metrics(p, y)
    # predicted positive: 0.9, 0.8, 0.6 -> tp 2, fp 1, fn 1
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    # pairs (pos > neg): 0.9 beats 3, 0.8 beats 3, 0.4 beats 0.3, 0.1 -> 8 of 9
    assert r["auc"] == pytest.approx(8 / 9)


def test_auc_ties_and_single_class() -> None:
    assert auc_score(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert auc_score([0.7, 0.5, 0.5], [1, 1, 0]) == pytest.approx(0.75)
    assert math.isnan(auc_score([0.2, 0.3], [1, 1]))
    r = binary_metrics([0.2, 0.3], [0, 0])
    assert r["precision"] == 0.0 and r["recall"] == 0.0 and r["auc"] is None  # undefined, not NaN


def test_breakdown_buckets() -> None:
    ranks = torch.tensor([0, 20, 3, 9, 50])
    lengths = torch.tensor([1, 5, 6, 60, 51])
    rows = breakdown_by_history_length(ranks, lengths)
    assert [r["bucket"] for r in rows] == ["1-5", "6-20", "21-50", ">50"]
    assert [r["users"] for r in rows] == [2, 1, 0, 2]
    assert rows[0]["hr@10"] == 0.5 and rows[0]["ndcg@10"] == pytest.approx(0.5)
    assert rows[1]["ndcg@10"] == pytest.approx(1 / math.log2(5))
    assert rows[2]["hr@10"] == 0.0
    assert rows[3]["hr@10"] == 0.5 and rows[3]["ndcg@10"] == pytest.approx(1 / math.log2(11) / 2)


def test_mask_history_takes_ragged_histories_as_row_item_pairs() -> None:
    scores = torch.tensor([[9.0, 5.0, 4.0, 3.0], [9.0, 5.0, 4.0, 3.0]])
    rows, items = torch.tensor([0, 0, 1]), torch.tensor([1, 3, 2])
    masked = mask_history(scores, items, torch.tensor([3, 1]), rows=rows)
    assert masked.tolist() == [[INF, INF, 4.0, 3.0], [INF, 5.0, INF, 3.0]]


NAN = float("nan")


def test_a_nan_target_ranks_behind_every_item() -> None:
    scores = torch.tensor([[INF, 0.5, NAN, 0.1, NAN], [INF, NAN, NAN, NAN, NAN]])
    ranks = target_ranks(scores, torch.tensor([2, 3]))
    assert ranks.tolist() == [4, 4]  # behind every other column, pad included
    assert target_ranks(scores, torch.tensor([1, 1])).tolist() == [0, 4]  # NaN items rank last


def test_nan_scores_earn_no_ranking_credit() -> None:
    m = RankingMetrics()
    m.add(target_ranks(torch.full((4, 30), NAN), torch.tensor([1, 2, 3, 4])))
    result = m.result()
    assert result["hr@10"] == 0.0 and result["ndcg@10"] == 0.0 and result["mrr@20"] == 0.0


def test_ranking_metrics_refuse_negative_ranks() -> None:
    with pytest.raises(ValueError, match="ranks"):
        RankingMetrics().add(torch.tensor([-1, 0]))


def test_sampled_ranks_put_a_nan_target_behind_its_negatives() -> None:
    scores = torch.tensor([[0.0, 0.3, NAN, 0.1, 0.2, 0.4]])
    g = torch.Generator().manual_seed(0)
    assert sampled_ranks(scores, torch.tensor([2]), num_negatives=3, generator=g).tolist() == [3]


def test_binary_metrics_treat_nan_predictions_as_least_confident() -> None:
    r = binary_metrics([NAN, NAN, 0.2, 0.1], [1, 1, 0, 0])
    assert r["auc"] == 0.0 and r["recall"] == 0.0 and r["accuracy"] == 0.5
    assert auc_score([NAN, 0.9], [1, 0]) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from([NAN, INF, -INF, 0.0, 1.0, -2.5, 1e30]), min_size=6, max_size=6),
             min_size=1, max_size=5),
    st.data(),
)
def test_every_metric_stays_in_0_1_whatever_the_scores(rows: list[list[float]], data: st.DataObject) -> None:
    scores = torch.tensor(rows)
    targets = torch.tensor(data.draw(st.lists(st.integers(1, 5), min_size=len(rows), max_size=len(rows))))
    m = RankingMetrics()
    m.add(target_ranks(scores, targets))
    m.add(sampled_ranks(scores, targets, 3, torch.Generator().manual_seed(0)))
    assert all(0.0 <= v <= 1.0 for k, v in m.result().items() if k != "users")
    labels = [i % 2 for i in range(scores.numel())]
    binary = binary_metrics(torch.sigmoid(scores).reshape(-1), labels)
    assert all(v is None or 0.0 <= v <= 1.0 for k, v in binary.items() if k != "count")


# --- several held-out items per user ---------------------------------------------------------


def test_held_out_ranks_count_other_held_out_items_and_ties_against_each_item() -> None:
    scores = torch.tensor([[INF, 0.9, 0.8, 0.8, 0.1, 0.5]])
    # items 1 and 3 held out: 1 is first; 3 ties with 2 and trails 1 -> 2 ahead; pad -> -1
    assert held_out_ranks(scores, torch.tensor([[1, 3, 0]])).tolist() == [[0, 2, -1]]
    assert held_out_ranks(scores, torch.tensor([[3]])).tolist() == [[2]]  # one item: as target_ranks


def test_held_out_ranks_put_nan_items_last() -> None:
    scores = torch.tensor([[INF, NAN, 0.3, 0.2, NAN]])
    assert held_out_ranks(scores, torch.tensor([[1, 2]])).tolist() == [[4, 0]]


def test_mask_history_keeps_every_held_out_item_and_excludes_the_pad() -> None:
    scores = torch.tensor([[9.0, 5.0, 4.0, 3.0, 2.0]])
    masked = mask_history(scores, torch.tensor([[1, 2, 0]]), torch.tensor([[2, 4, 0]]))
    assert masked.tolist() == [[INF, INF, 4.0, 3.0, 2.0]]  # 2 in the history but held out: kept


def test_several_relevant_items_hand_computed() -> None:
    # ranks 0 and 3 of three held-out items, the third at 7
    m = RankingMetrics(ks=(5,))
    m.add(torch.tensor([[0, 3, 7]]))
    r = m.result()
    assert r["hr@5"] == 1.0 and r["recall@5"] == pytest.approx(2 / 3) and r["precision@5"] == pytest.approx(2 / 5)
    ideal = 1.0 + 1 / math.log2(3) + 1 / math.log2(4)
    assert r["ndcg@5"] == pytest.approx((1.0 + 1 / math.log2(5)) / ideal)
    assert r["mrr@5"] == 1.0 and r["users"] == 1


def test_fewer_relevant_items_than_k_use_the_ideal_over_those_items() -> None:
    # two held-out items at ranks 1 and 2: ideal DCG over min(K, 2) = 2 positions
    r = per_user_metrics(torch.tensor([[1, 2]]), 10)
    ideal = 1.0 + 1 / math.log2(3)
    assert r["ndcg"].item() == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / ideal)
    assert r["recall"].item() == 1.0 and r["precision"].item() == pytest.approx(2 / 10)
    assert r["mrr"].item() == pytest.approx(1 / 2)


def test_more_relevant_items_than_k_cap_the_ideal_at_k() -> None:
    r = per_user_metrics(torch.tensor([[0, 1, 2, 3]]), 2)
    assert r["ndcg"].item() == pytest.approx(1.0) and r["recall"].item() == pytest.approx(2 / 4)
    assert r["precision"].item() == 1.0


def test_a_user_without_relevant_items_is_not_added() -> None:
    m = RankingMetrics(ks=(5,))
    m.add(torch.tensor([[-1, -1], [0, -1]]))
    assert m.result()["users"] == 1 and m.result()["recall@5"] == 1.0
    none = RankingMetrics()
    none.add(torch.tensor([[-1, -1]]))
    assert none.result()["users"] == 0 and none.result()["ndcg@10"] == 0.0


def test_held_out_items_tied_with_each_other_count_against_both() -> None:
    scores = torch.tensor([[INF, 0.5, 0.5, 0.1]])
    ranks = held_out_ranks(scores, torch.tensor([[1, 2]]))
    assert ranks.tolist() == [[1, 1]]
    r = per_user_metrics(ranks, 5)
    assert r["ndcg"].item() == pytest.approx((2 / math.log2(3)) / (1.0 + 1 / math.log2(3)))
    assert r["mrr"].item() == pytest.approx(1 / 2)


def test_a_constant_model_gets_no_credit_for_several_held_out_items() -> None:
    scores = mask_history(torch.zeros(2, 40), torch.tensor([[3, 4], [5, 0]]), torch.tensor([[1, 2], [6, 7]]))
    m = RankingMetrics()
    m.add(held_out_ranks(scores, torch.tensor([[1, 2], [6, 7]])))
    assert all(v == 0.0 for k, v in m.result().items() if k != "users")


def test_one_held_out_item_as_a_set_gives_exactly_the_single_target_figures() -> None:
    g = torch.Generator().manual_seed(3)
    ranks = torch.randint(0, 40, (200,), generator=g)
    single, as_sets = RankingMetrics(), RankingMetrics()
    single.add(ranks)
    as_sets.add(torch.stack([ranks, torch.full_like(ranks, -1)], dim=1))
    assert single.result() == as_sets.result()
    for k in (5, 10, 20):
        assert single.result()[f"recall@{k}"] == single.result()[f"hr@{k}"]
        assert single.result()[f"precision@{k}"] == pytest.approx(single.result()[f"hr@{k}"] / k)


def test_breakdown_takes_held_out_sets() -> None:
    rows = breakdown_by_history_length(torch.tensor([[0, 30], [40, -1]]), torch.tensor([3, 60]), k=10)
    assert rows[0]["users"] == 1 and rows[0]["hr@10"] == 1.0
    assert rows[0]["ndcg@10"] == pytest.approx(1.0 / (1.0 + 1 / math.log2(3)))
    assert rows[-1]["users"] == 1 and rows[-1]["hr@10"] == 0.0


def test_paired_bootstrap_of_a_constant_gain_has_a_tight_interval_around_it() -> None:
    from recgraft.engine.metrics import paired_bootstrap

    theirs = np.random.default_rng(0).uniform(0.1, 1.0, size=500)
    result = paired_bootstrap(theirs * 1.2, theirs)
    assert result.gain == pytest.approx(0.2)
    assert result.low == pytest.approx(0.2) and result.high == pytest.approx(0.2)
    assert result.significant and result.users == 500


def test_paired_bootstrap_of_noise_around_no_change_is_not_significant() -> None:
    from recgraft.engine.metrics import paired_bootstrap

    rng = np.random.default_rng(1)
    theirs = rng.uniform(0, 1, size=400)
    ours = theirs[rng.permutation(400)]  # the same values, shuffled among users: no systematic gain
    result = paired_bootstrap(ours, theirs, samples=2000)
    assert result.gain == pytest.approx(0.0, abs=1e-12)
    assert result.low < 0 < result.high and not result.significant


def test_paired_bootstrap_matches_a_hand_computed_two_user_case() -> None:
    from recgraft.engine.metrics import paired_bootstrap

    # two users: resamples are (u1,u1), (u1,u2), (u2,u1), (u2,u2); ours/theirs: 2/1, 3/3, 3/3, 4/5
    result = paired_bootstrap(np.array([2.0, 4.0]), np.array([1.0, 5.0]), samples=20_000, seed=3)
    assert result.gain == pytest.approx(0.0)
    assert result.low == pytest.approx(-0.2) and result.high == pytest.approx(1.0)

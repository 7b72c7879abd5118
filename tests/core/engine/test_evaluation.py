"""Full-ranking evaluation: history exclusion and padding-trimmed batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.engine.batching import padded_histories
from recgraft.engine.evaluation import rank_held_out, rank_targets
from recgraft.engine.metrics import mask_history, target_ranks
from recgraft.pretrain import build_encoder

CPU = torch.device("cpu")


def split():
    source, _ = synthetic_domains(seed=0)
    return leave_one_out(source)


def test_ranks_match_masking_the_whole_padded_history() -> None:
    data = split()
    scores_table = torch.randn(data.domain.num_items + 1, generator=torch.Generator().manual_seed(0))
    users = data.evaluated_users("test")
    _, ranks = rank_targets(lambda h: scores_table.expand(len(h), -1).clone(), data, "test", 5, CPU, batch_size=7)
    history = data.history("test")
    full = padded_histories(history, users, int(history.lengths()[users].max()))
    targets = torch.from_numpy(data.test[users])
    expected = target_ranks(mask_history(scores_table.expand(len(users), -1), full, targets), targets)
    assert ranks.tolist() == expected.tolist()


def test_trimmed_batches_rank_like_full_windows_for_a_padding_invariant_encoder() -> None:
    data = split()
    torch.manual_seed(0)
    encoder = build_encoder("transformer", {"embedding_dim": 16, "max_length": 40}, data.domain.num_items).eval()
    assert encoder.padding_invariant

    def scorer(h: torch.Tensor) -> torch.Tensor:
        return encoder.score_items(encoder(h))

    users, full = rank_targets(scorer, data, "valid", 40, CPU, batch_size=16)
    trimmed_users, trimmed = rank_targets(scorer, data, "valid", 40, CPU, batch_size=16, trim_padding=True)
    assert np.array_equal(users, trimmed_users)  # results come back in the users' order
    assert (full - trimmed).abs().max() <= 1  # equal up to float rounding between near-ties
    assert (full == trimmed).float().mean() > 0.99


def test_batches_ranked_side_by_side_match_one_at_a_time() -> None:
    data = split()
    torch.manual_seed(0)
    encoder = build_encoder("transformer", {"embedding_dim": 16, "max_length": 40}, data.domain.num_items).eval()

    def scorer(h: torch.Tensor) -> torch.Tensor:
        return encoder.score_items(encoder(h))

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        _, alone = rank_targets(scorer, data, "valid", 40, CPU, batch_size=8, trim_padding=True)
        torch.set_num_threads(2)
        _, side_by_side = rank_targets(scorer, data, "valid", 40, CPU, batch_size=8, trim_padding=True)
    finally:
        torch.set_num_threads(threads)
    assert alone.tolist() == side_by_side.tolist()


def test_a_failing_batch_raises_and_restores_the_thread_count() -> None:
    def scorer(h: torch.Tensor) -> torch.Tensor:
        raise ValueError("broken scorer")

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(ValueError, match="broken scorer"):
            rank_targets(scorer, split(), "valid", 40, CPU, batch_size=8)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_held_out_sets_are_ranked_with_the_history_excluded_and_the_other_held_out_items_kept() -> None:
    from recgraft.data.split import make_split

    source, _ = synthetic_domains(seed=0)
    data = make_split(source, "ratio:0.6,0.2,0.2", seed=0)
    table = torch.randn(data.domain.num_items + 1, generator=torch.Generator().manual_seed(1))
    users, ranks = rank_held_out(lambda h: table.expand(len(h), -1).clone(), data, "test", 5, CPU, batch_size=7)
    history, held = data.history("test"), data.held_out("test")
    assert ranks.shape[1] == int(held.lengths()[users].max()) > 1
    for position, user in enumerate(users[:25]):
        seen = set(history.row(user).tolist())
        for column, item in enumerate(held.row(user).tolist()):
            rivals = [j for j in range(1, len(table)) if j == item or j not in seen]
            assert ranks[position, column] == sum(table[j] >= table[item] for j in rivals) - 1
        assert (ranks[position, len(held.row(user)):] == -1).all()


def test_rank_targets_refuses_a_split_with_several_held_out_items() -> None:
    from recgraft.data.split import make_split

    source, _ = synthetic_domains(seed=0)
    data = make_split(source, "ratio:0.6,0.2,0.2", seed=0)
    with pytest.raises(ValueError, match="rank_held_out"):
        rank_targets(lambda h: torch.zeros(len(h), data.domain.num_items + 1), data, "test", 5, CPU)


def test_evaluate_under_leave_one_out_reports_precision_as_hit_over_k() -> None:
    from recgraft.engine.evaluation import evaluate

    data = split()
    table = torch.randn(data.domain.num_items + 1, generator=torch.Generator().manual_seed(2))
    result = evaluate(lambda h: table.expand(len(h), -1).clone(), data, "test", 5, CPU)
    assert result["recall@10"] == result["hr@10"]
    assert result["precision@10"] == pytest.approx(result["hr@10"] / 10)


def test_per_user_metrics_name_every_evaluated_user_and_average_to_the_reported_metric() -> None:
    from recgraft.engine.evaluation import evaluate

    data = split()
    table = torch.randn(data.domain.num_items + 1, generator=torch.Generator().manual_seed(3))
    result = evaluate(lambda h: table.expand(len(h), -1).clone(), data, "test", 5, CPU, per_user=True)
    per_user = result["per_user"]
    assert per_user["users"] == data.evaluated_users("test").tolist()
    assert len(per_user["ndcg@10"]) == len(per_user["users"])
    assert np.mean(per_user["ndcg@10"]) == pytest.approx(result["ndcg@10"])
    assert np.mean(per_user["hr@10"]) == pytest.approx(result["hr@10"])


def test_per_user_metrics_are_left_out_unless_asked_for() -> None:
    from recgraft.engine.evaluation import evaluate

    data = split()
    result = evaluate(lambda h: torch.zeros(len(h), data.domain.num_items + 1), data, "test", 5, CPU)
    assert "per_user" not in result

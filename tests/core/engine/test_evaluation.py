"""Full-ranking evaluation: history exclusion and padding-trimmed batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.engine.batching import padded_histories
from recgraft.engine.evaluation import rank_targets
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

"""Right-aligned histories and next-item windows built without per-sample Python."""

from __future__ import annotations

import numpy as np
import torch

from recgraft.data.split import Sequences
from recgraft.engine.batching import NextItemExamples, batches, next_item_examples, padded_histories


def sequences(*rows: list[int]) -> Sequences:
    """Row 0 is empty; rows 1.. are the given users."""
    lengths = [0] + [len(r) for r in rows]
    indptr = np.concatenate([[0], np.cumsum(lengths), [sum(lengths)]]).astype(np.int64)
    items = np.array([i for r in rows for i in r], dtype=np.int64)
    return Sequences(indptr=indptr, items=items)


def test_histories_are_right_aligned_and_keep_the_most_recent_items() -> None:
    seqs = sequences([1, 2, 3, 4, 5], [7, 8])
    out = padded_histories(seqs, np.array([1, 2]), 3).numpy()
    assert out.tolist() == [[3, 4, 5], [0, 7, 8]]


def test_next_item_targets_follow_their_inputs() -> None:
    seqs = sequences([1, 2, 3, 4])
    examples = next_item_examples(seqs, np.array([1]), 5, all_windows=False)
    assert examples.inputs.tolist() == [[0, 0, 1, 2, 3]]
    assert examples.targets.tolist() == [[0, 0, 2, 3, 4]]


def test_long_histories_are_cut_into_consecutive_windows() -> None:
    seqs = sequences([1, 2, 3, 4, 5, 6], [9, 8])
    examples = next_item_examples(seqs, np.array([1, 2]), 2, all_windows=True)
    # User 1's five (input, target) pairs make three windows, the oldest left-padded.
    assert examples.inputs.tolist() == [[4, 5], [2, 3], [0, 1], [0, 9]]
    assert examples.targets.tolist() == [[5, 6], [3, 4], [0, 2], [0, 8]]


def test_users_with_fewer_than_two_items_give_no_window() -> None:
    seqs = sequences([5], [1, 2])
    assert next_item_examples(seqs, np.array([1, 2]), 4).inputs.tolist() == [[0, 0, 0, 1]]


def test_trimming_drops_only_columns_that_are_padding_in_every_row() -> None:
    examples = NextItemExamples(torch.tensor([[0, 0, 0, 4, 5], [0, 0, 7, 8, 9]]), torch.tensor([[0, 0, 0, 5, 6], [0, 0, 8, 9, 1]]))
    trimmed = examples.trimmed()
    assert trimmed.inputs.tolist() == [[0, 4, 5], [7, 8, 9]]
    assert trimmed.targets.tolist() == [[0, 5, 6], [8, 9, 1]]
    assert examples.lengths().tolist() == [2, 3]


def test_length_buckets_cover_every_row_once() -> None:
    lengths = torch.randint(1, 200, (1000,), generator=torch.Generator().manual_seed(0))
    order = batches(1000, 32, torch.Generator().manual_seed(1), torch.device("cpu"), lengths=lengths)
    assert sorted(torch.cat(order).tolist()) == list(range(1000))
    assert max(len(b) for b in order) == 32


def test_length_buckets_hold_similar_lengths() -> None:
    lengths = torch.randint(1, 200, (4096,), generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1)
    plain = batches(4096, 32, generator, torch.device("cpu"))
    bucketed = batches(4096, 32, generator, torch.device("cpu"), lengths=lengths)

    def spread(order: list[torch.Tensor]) -> float:
        return sum(float(lengths[b].max() - lengths[b].min()) for b in order) / len(order)

    assert spread(bucketed) < spread(plain) / 4


def test_length_buckets_are_shards_of_one_order_under_several_processes() -> None:
    lengths = torch.randint(1, 50, (100,), generator=torch.Generator().manual_seed(0))
    shards = [batches(100, 8, torch.Generator().manual_seed(3), torch.device("cpu"), rank, 2, lengths) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    assert sorted(torch.cat(shards[0] + shards[1]).tolist()) == list(range(100))

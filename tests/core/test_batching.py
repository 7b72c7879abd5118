"""Right-aligned histories and next-item windows built without per-sample Python."""

from __future__ import annotations

import numpy as np

from recgraft.batching import next_item_examples, padded_histories
from recgraft.data.split import Sequences


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

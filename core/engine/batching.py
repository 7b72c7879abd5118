"""Training and evaluation tensors built once from per-user sequences, with no per-sample Python.

Histories are right-aligned: the most recent item sits in the last column and padding
(item 0) fills the left, so "the user vector" is always the output at the last position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from recgraft import distributed
from recgraft.data.split import Sequences


def _positions_from_end(sequences: Sequences, users: np.ndarray, drop_last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the chosen users' rows (minus their last ``drop_last`` items): element index, user slot, position from the end."""
    starts = sequences.indptr[users]
    ends = sequences.indptr[users + 1] - drop_last
    lengths = np.maximum(ends - starts, 0)
    slot = np.repeat(np.arange(len(users)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    index = np.repeat(starts, lengths) + offsets
    from_end = np.repeat(lengths, lengths) - 1 - offsets
    return index, slot, from_end


def padded_histories(sequences: Sequences, users: np.ndarray, max_length: int) -> torch.Tensor:
    """The users' most recent ``max_length`` items, right-aligned: ``(len(users), max_length)``."""
    index, slot, from_end = _positions_from_end(sequences, np.asarray(users, dtype=np.int64), 0)
    keep = from_end < max_length
    out = np.zeros((len(users), max_length), dtype=np.int64)
    out[slot[keep], max_length - 1 - from_end[keep]] = sequences.items[index[keep]]
    return torch.from_numpy(out)


@dataclass
class NextItemExamples:
    """Training windows: ``inputs[r, t]`` is followed by ``targets[r, t]`` (0 = no target)."""

    inputs: torch.Tensor  # (R, L)
    targets: torch.Tensor  # (R, L)

    def to(self, device: torch.device | str) -> NextItemExamples:
        return NextItemExamples(self.inputs.to(device), self.targets.to(device))

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def lengths(self) -> torch.Tensor:
        """Real (non-padding) items per window: ``(R,)``."""
        return (self.inputs > 0).sum(1)

    def trimmed(self) -> NextItemExamples:
        """The same windows without the leading columns that are padding in every row.

        Only for encoders whose output ignores left padding (``Encoder.padding_invariant``).
        """
        filled = (self.inputs > 0).any(0)
        first = int(filled.int().argmax()) if bool(filled.any()) else self.inputs.shape[1] - 1
        return NextItemExamples(self.inputs[:, first:], self.targets[:, first:])


def next_item_examples(
    sequences: Sequences, users: np.ndarray, max_length: int, all_windows: bool = True
) -> NextItemExamples:
    """Next-item training windows of length ``max_length`` for each user's sequence.

    With ``all_windows`` a sequence longer than the window is cut into consecutive windows,
    so every interaction is a training target once per epoch; otherwise only the most
    recent window is kept.
    """
    users = np.asarray(users, dtype=np.int64)
    lengths = sequences.indptr[users + 1] - sequences.indptr[users]
    users = users[lengths >= 2]
    # Inputs are each row without its last item; targets the same positions shifted by one.
    index, slot, from_end = _positions_from_end(sequences, users, 1)
    window = from_end // max_length
    if not all_windows:
        keep = window == 0
        index, slot, from_end, window = index[keep], slot[keep], from_end[keep], window[keep]
    windows_per_user = np.zeros(len(users), dtype=np.int64)
    np.maximum.at(windows_per_user, slot, window + 1)
    row_offset = np.cumsum(windows_per_user) - windows_per_user
    rows = row_offset[slot] + window
    cols = max_length - 1 - from_end % max_length
    inputs = np.zeros((int(windows_per_user.sum()), max_length), dtype=np.int64)
    targets = np.zeros_like(inputs)
    inputs[rows, cols] = sequences.items[index]
    targets[rows, cols] = sequences.items[index + 1]
    return NextItemExamples(torch.from_numpy(inputs), torch.from_numpy(targets))


def shard_indices(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Process ``rank``'s share of ``order``: every ``world_size``-th entry from ``rank``.

    ``order`` is first extended by wrapping around (as ``DistributedSampler`` pads), so that
    every process gets ``ceil(len(order) / world_size)`` entries and runs as many batches.
    """
    if world_size == 1 or len(order) == 0:
        return order
    per_process = -(-len(order) // world_size)
    wrapped = order[torch.arange(per_process * world_size, device=order.device) % len(order)]
    return wrapped[rank::world_size]


#: With length bucketing, rows are sorted by length within pools of this many batches:
#: batches hold similar lengths, and the pools and the batch order stay random.
BUCKET_POOL_BATCHES = 32


def batches(
    num_rows: int,
    batch_size: int,
    generator: torch.Generator | None,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
    lengths: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Index batches over ``num_rows`` rows, shuffled when a generator is given.

    With ``lengths`` (per row) rows of similar length share a batch, so that trimmed
    batches (:meth:`NextItemExamples.trimmed`) carry little padding. With several processes
    each takes its shard (:func:`shard_indices`) of the same order: the generator must be
    seeded alike everywhere.
    """
    if generator is not None:
        order = torch.randperm(num_rows, generator=generator)
    else:
        order = torch.arange(num_rows)
    order = shard_indices(order, rank, world_size)
    if lengths is None:
        return list(order.to(device).split(batch_size))
    lengths = lengths.cpu()
    grouped = [
        batch
        for pool in order.split(batch_size * BUCKET_POOL_BATCHES)
        for batch in pool[lengths[pool].argsort(stable=True)].split(batch_size)
    ]
    if generator is not None:
        grouped = [grouped[i] for i in torch.randperm(len(grouped), generator=generator).tolist()]
    return [batch.to(device) for batch in grouped]


class ExampleBatches:
    """One epoch's batches of training windows, each moved to the device when it is reached
    (the windows stay where they are) and, with ``trim``, cut to its longest window."""

    def __init__(self, examples: NextItemExamples, indices: list[torch.Tensor], device: torch.device,
                 trim: bool) -> None:
        self.examples, self.indices, self.device, self.trim = examples, indices, device, trim

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[NextItemExamples]:
        for index in self.indices:
            batch = NextItemExamples(self.examples.inputs[index], self.examples.targets[index]).to(self.device)
            yield batch.trimmed() if self.trim else batch


def example_batches(
    examples: NextItemExamples,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
    *,
    trim: bool = False,
    lengths: torch.Tensor | None = None,
    passes: int = 1,
) -> ExampleBatches:
    """This process's shuffled batches of ``examples`` for one epoch (``passes`` shuffles in a
    row), under torchrun its shard of them (:func:`batches`)."""
    on = examples.inputs.device
    indices = [index for _ in range(passes)
               for index in batches(len(examples), batch_size, generator, on, distributed.rank(),
                                    distributed.world_size(), lengths)]
    return ExampleBatches(examples, indices, device, trim)

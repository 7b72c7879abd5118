"""Pretraining objectives: how an encoder learns from a domain's sequences.

An objective owns its optimizers and performs one update per batch, so adversarial
training (two optimizers) fits the same loop as next-item prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from recgraft.batching import NextItemExamples
from recgraft.losses import softmax_cross_entropy

if TYPE_CHECKING:
    from recgraft.encoder import Encoder
    from recgraft.training import TrainConfig


class PretrainingObjective:
    """One update per batch; returns the losses to report.

    Under torchrun the training loop sets ``average_gradients``; an objective calls
    :meth:`synchronize` between ``backward`` and clipping. One that does not still trains
    correctly: its optimisers' steps average the gradients just before updating.
    """

    #: Averages an optimiser's gradients across processes (set by the training loop).
    average_gradients: Callable[[torch.optim.Optimizer], None] | None = None

    def __init__(self, encoder: Encoder, train: TrainConfig) -> None:
        self.encoder = encoder
        self.train = train

    def synchronize(self, optimizer: torch.optim.Optimizer) -> None:
        """Average ``optimizer``'s gradients across processes (nothing in a single process)."""
        if self.average_gradients is not None:
            self.average_gradients(optimizer)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        raise NotImplementedError

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, object]:
        return {f"optimizer{i}": opt.state_dict() for i, opt in enumerate(self.optimizers())}

    def load_state_dict(self, state: dict[str, object]) -> None:
        for i, opt in enumerate(self.optimizers()):
            opt.load_state_dict(state[f"optimizer{i}"])  # type: ignore[arg-type]


def next_item_loss(
    encoder: Encoder,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    negatives: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cross-entropy of the next item at every position (full softmax, or sampled softmax).

    Sequential encoders predict at every position; others predict every later item
    from the whole history (multi-label softmax over the window's targets).
    """
    items = encoder.item_vectors()
    outputs = encoder.sequence_output(inputs)
    if outputs is None:
        outputs = encoder(inputs).unsqueeze(1).expand(-1, inputs.shape[1], -1)
    mask = targets > 0
    hidden = outputs[mask]  # (N, D)
    wanted = targets[mask]  # (N,)
    if negatives <= 0:
        return softmax_cross_entropy(hidden, items, wanted)
    sampled = torch.randint(1, items.shape[0], (negatives,), device=items.device, generator=generator)
    positive = (hidden * items[wanted]).sum(-1, keepdim=True)  # (N, 1)
    negative = hidden @ items[sampled].T  # (N, K)
    negative = negative.masked_fill(sampled.unsqueeze(0) == wanted.unsqueeze(1), float("-inf"))
    logits = torch.cat([positive, negative], dim=1)
    return F.cross_entropy(logits.float(), torch.zeros_like(wanted))


class NextItemObjective(PretrainingObjective):
    """Predict the next item at every position; full softmax over the catalogue by default."""

    def __init__(self, encoder: Encoder, train: TrainConfig) -> None:
        super().__init__(encoder, train)
        self.optimizer = torch.optim.Adam(
            encoder.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay
        )

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = next_item_loss(self.encoder, batch.inputs, batch.targets, self.train.sampled_negatives)
        loss.backward()
        self.synchronize(self.optimizer)
        if self.train.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.encoder.parameters(), self.train.clip_grad_norm)
        self.optimizer.step()
        return {"loss": float(loss.detach())}

"""Pretraining objectives: how an encoder learns from a domain's sequences.

An objective owns its optimizers and performs one update per batch, so adversarial
training (two optimizers) fits the same loop as next-item prediction. Under torchrun an
objective trains a module whose forward returns its loss, wrapped with :meth:`PretrainingObjective.parallel`
(``DistributedDataParallel``), as :class:`NextItemObjective` does with :class:`NextItemLoss`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from recgraft import distributed
from recgraft.engine.batching import NextItemExamples
from recgraft.engine.config import TrainConfig
from recgraft.losses import softmax_cross_entropy


class Encoder(Protocol):
    """What an objective uses of its encoder (a :class:`recgraft.encoder.Encoder`)."""

    def __call__(self, history: torch.Tensor) -> torch.Tensor: ...

    def item_vectors(self) -> torch.Tensor: ...

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor | None: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...


class PretrainingObjective:
    """One update per batch; returns the losses to report.

    Under torchrun an objective computes its loss through a module wrapped with
    :meth:`parallel` (``DistributedDataParallel`` averages the gradients during backward).
    One that wraps nothing still trains correctly: the training loop then sets
    ``average_gradients``, :meth:`synchronize` (between ``backward`` and clipping) averages,
    and a step not preceded by it averages just before updating.
    """

    #: Averages an optimiser's gradients across processes (set by the training loop for an
    #: objective that wraps nothing with :meth:`parallel`).
    average_gradients: Callable[[torch.optim.Optimizer], None] | None = None

    def __init__(self, encoder: Encoder, train: TrainConfig) -> None:
        self.encoder = encoder
        self.train = train
        self.parallel_modules: list[nn.Module] = []

    def parallel(self, module: nn.Module) -> nn.Module:
        """``module``, whose forward returns a loss, ready for data-parallel training: in
        ``DistributedDataParallel`` under torchrun, itself in a single process."""
        wrapped = distributed.data_parallel(module)
        self.parallel_modules.append(wrapped)
        return wrapped

    def synchronize(self, optimizer: torch.optim.Optimizer) -> None:
        """Average ``optimizer``'s gradients across processes, for an objective that wraps
        nothing with :meth:`parallel` (nothing in a single process or under DDP)."""
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


class NextItemLoss(nn.Module):
    """:func:`next_item_loss` of an encoder as a module (what :class:`NextItemObjective` trains)."""

    def __init__(self, encoder: Encoder, negatives: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        self.negatives = negatives

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return next_item_loss(self.encoder, inputs, targets, self.negatives)


class NextItemObjective(PretrainingObjective):
    """Predict the next item at every position; full softmax over the catalogue by default."""

    def __init__(self, encoder: Encoder, train: TrainConfig) -> None:
        super().__init__(encoder, train)
        self.loss = self.parallel(NextItemLoss(encoder, train.sampled_negatives))
        self.optimizer = torch.optim.Adam(
            encoder.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay
        )

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(batch.inputs, batch.targets)
        loss.backward()
        self.synchronize(self.optimizer)
        if self.train.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.encoder.parameters(), self.train.clip_grad_norm)
        self.optimizer.step()
        return {"loss": float(loss.detach())}

"""Transfer training: the engine's one epoch loop with the transfer phase below.

Shared by every strategy. Before any update the aligned model is evaluated on the target's
validation split and kept as epoch 0, so early stopping can never end worse (on
validation) than not training at all. When the model's features cannot change (a frozen
encoder, no adapter) they are extracted once, and the epochs train the head on the cached
features. Optional source-domain windows (already mapped to target item ids) are mixed
into each epoch. The strategy sets each epoch's learning rates and may choose settings on
validation once training is over.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from recgraft import distributed
from recgraft.data.split import Split, Stage
from recgraft.engine.batching import NextItemExamples, batches, example_batches, next_item_examples
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import autocast, use_precision
from recgraft.engine.evaluation import evaluate
from recgraft.engine.loop import Phase, TrainResult, run_epochs
from recgraft.engine.progress import Progress
from recgraft.strategy import TransferStrategy
from recgraft.transfer_model import TransferModel

#: On tiny training sets (a few dozen users) one pass is one or two updates; an epoch then
#: repeats the data until it holds at least this many, so that patience (in epochs) does not
#: stop a run, the scratch baseline especially, before it has learned anything.
MIN_STEPS_PER_EPOCH = 16

#: What transfer training returns (the loop's result: epoch 0 is the zero-shot model).
TransferTrainResult = TrainResult


def evaluate_model(model: TransferModel, split: Split, stage: Stage, device: torch.device,
                   batch_size: int = 512, breakdown: bool = False, known_items: np.ndarray | None = None,
                   per_user: bool = False) -> dict[str, Any]:
    """Full-ranking metrics of ``model`` on ``stage`` (split across processes under torchrun);
    ``known_items`` (bool per item id) names the items the source knew, for the cold-item view."""
    model.eval()
    return evaluate(model.scorer(device), split, stage, model.max_length, device, batch_size, breakdown,
                    trim_padding=model.padding_invariant, shard=distributed.evaluation_shard(),
                    known_items=known_items, per_user=per_user)


class TransferLoss(nn.Module):
    """The head's loss of a transfer model as a module, for ``DistributedDataParallel``: on
    windows ``(inputs, targets)``, or on cached head features with ``cached=True``."""

    def __init__(self, model: TransferModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None = None,
                cached: bool = False) -> torch.Tensor:
        features, wanted = (inputs, targets) if cached else self.model.training_features(inputs, targets)
        return self.model.loss(features, wanted, generator)


@torch.no_grad()
def _cached_features(
    model: TransferModel, examples: NextItemExamples, batch_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every training position's features and next item, extracted once: ``(N, F)``, ``(N,)``."""
    model.eval()
    features, targets = [], []
    for start in range(0, len(examples), batch_size):
        chunk = NextItemExamples(examples.inputs[start : start + batch_size],
                                 examples.targets[start : start + batch_size]).to(device)
        with autocast(device):
            f, t = model.training_features(chunk.inputs, chunk.targets)
        features.append(f.float())
        targets.append(t)
    if not features:
        return torch.zeros(0, 1), torch.zeros(0, dtype=torch.long)
    return torch.cat(features), torch.cat(targets)


class TransferPhase(Phase):
    """The loop's transfer phase: the strategy's parameter groups, trained with Adam on the
    target's windows (or cached features), starting from the zero-shot model (epoch 0)."""

    zero_shot = True

    def __init__(self, model: TransferModel, strategy: TransferStrategy, split: Split, train: TrainConfig,
                 device: torch.device, source_examples: NextItemExamples | None = None) -> None:
        self.module, self.strategy, self.split, self.train, self.device = model.to(device), strategy, split, train, device
        self.model = model
        self.data_device = torch.device("cpu") if distributed.sharded() else device  # batches move one by one
        self.examples = next_item_examples(split.train, split.train_users, model.max_length,
                                           train.all_windows).to(self.data_device)
        groups = strategy.parameter_groups(model, train.learning_rate)
        self.optimizer = torch.optim.Adam(groups, weight_decay=train.weight_decay) if groups else None
        self.base_rates = [group["lr"] for group in self.optimizer.param_groups] if self.optimizer else []
        self.parameters = [p for group in groups for p in group["params"]]
        self.invariant = model.padding_invariant  # batches can then drop all-padding columns
        bucket = train.bucket_by_length and self.invariant
        self.mix = strategy.source_mix() if source_examples is not None else 0.0
        self.source = source_examples.to(self.data_device) if source_examples is not None else None
        self.target_lengths = self.examples.lengths() if bucket else None
        self.source_lengths = self.source.lengths() if bucket and self.source is not None else None
        self.loss = distributed.data_parallel(TransferLoss(model)) if self.trainable() else TransferLoss(model)
        self.cached: tuple[torch.Tensor, torch.Tensor] | None = None
        if model.features_frozen and self.trainable():
            self.cached = _cached_features(model, self.examples, train.eval_batch_size, device)
        self.generator: torch.Generator | None = None
        self.positions_per_window = max(1, int((self.examples.targets > 0).sum()) // max(len(self.examples), 1))

    def trainable(self) -> bool:
        return self.optimizer is not None and len(self.examples) > 0

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer] if self.optimizer is not None else []

    def _passes(self, rows: int, batch_size: int) -> int:
        steps = math.ceil(math.ceil(rows / distributed.world_size()) / batch_size)  # this process's batches per pass
        return max(1, math.ceil(MIN_STEPS_PER_EPOCH / max(steps, 1)))

    def begin_epoch(self, epoch: int) -> None:
        assert self.optimizer is not None
        scales = self.strategy.learning_rate_scales(epoch)
        for group, rate in zip(self.optimizer.param_groups, self.base_rates, strict=True):
            group["lr"] = rate * scales.get(group.get("name", ""), 1.0)

    def epoch_batches(self, epoch: int, generator: torch.Generator) -> Any:
        self.generator = generator  # the loop's seeded stream, also for the head's sampled negatives
        if self.cached is not None:  # positions, not windows: as many per batch as a window holds
            size = self.train.batch_size * self.positions_per_window
            rows = len(self.cached[1])
            return [(index, True) for _ in range(self._passes(rows, size))
                    for index in batches(rows, size, generator, self.device, distributed.rank(),
                                         distributed.world_size())]
        examples, lengths = self.examples, self.target_lengths
        if self.mix > 0 and self.source is not None and len(self.source):
            count = max(1, int(round(self.mix * len(examples))))
            pick = torch.randint(0, len(self.source), (count,), generator=generator).to(self.data_device)
            examples = NextItemExamples(torch.cat([examples.inputs, self.source.inputs[pick]]),
                                        torch.cat([examples.targets, self.source.targets[pick]]))
            if lengths is not None and self.source_lengths is not None:
                lengths = torch.cat([lengths, self.source_lengths[pick]])
        return example_batches(examples, self.train.batch_size, generator, self.device, trim=self.invariant,
                               lengths=lengths, passes=self._passes(len(examples), self.train.batch_size))

    def step(self, batch: Any) -> dict[str, float]:
        assert self.optimizer is not None
        if isinstance(batch, tuple):  # (index, cached)
            assert self.cached is not None
            inputs, targets, cached = self.cached[0][batch[0]], self.cached[1][batch[0]], True
        else:
            inputs, targets, cached = batch.inputs, batch.targets, False
        with autocast(self.device):
            loss = self.loss(inputs, targets, self.generator, cached=cached)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.train.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.parameters, self.train.clip_grad_norm)
        self.optimizer.step()
        return {"loss": float(loss.detach())}

    def validate(self) -> dict[str, float]:
        valid = evaluate_model(self.model, self.split, "valid", self.device, self.train.eval_batch_size)
        return {k: float(v) for k, v in valid.items()}

    def choose_on_validation(self) -> dict[str, float]:
        return self.strategy.choose_on_validation(self.model, lambda: self.validate()["ndcg@10"])

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()} if self.optimizer is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])


def fit_transfer(
    model: TransferModel,
    strategy: TransferStrategy,
    split: Split,
    train: TrainConfig,
    device: torch.device,
    *,
    source_examples: NextItemExamples | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``model`` on the split's training users; it ends with its best validation weights."""
    distributed.replicate(model.state_dict().values())  # before the zero-shot validation and any cache
    with use_precision(train.precision):  # the cached features too
        phase = TransferPhase(model, strategy, split, train, device, source_examples)
    return run_epochs(phase, train, progress=progress)

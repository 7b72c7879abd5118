"""Learning-rate schedules: linear warm-up, then constant or cosine decay over the run.

A schedule scales every parameter group's learning rate by a factor of the optimiser step.
The cosine decays to zero at the run's horizon: its ``epochs`` x batches per epoch, or, with
``max_minutes``, the end of the epoch in which the time budget is expected to run out (the
loop stops there), re-estimated at each epoch from the pace so far (validation included).
The factor depends only on the step and on numbers agreed by every process, so replicas
under torchrun stay identical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from recgraft.engine.config import TrainConfig


def schedule_factor(schedule: str, step: int, warmup_steps: int, horizon: int) -> float:
    """The learning-rate factor at optimiser ``step`` (0-based): a linear warm-up over
    ``warmup_steps``, then 1 (``constant``) or a cosine from 1 to 0 at ``horizon`` steps."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    if schedule == "constant":
        return warm
    span = max(horizon - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return warm * 0.5 * (1.0 + math.cos(math.pi * progress))


class LearningRateSchedule:
    """Applies :func:`schedule_factor` to a phase's optimisers, step by step.

    The learning rates in the optimisers when an epoch begins are that epoch's base rates (a
    transfer strategy may set them per epoch); each step scales them, and the end of the
    epoch puts them back, so a resumed run and the next epoch's strategy see unscaled rates.
    """

    def __init__(self, train: TrainConfig, optimizers: Sequence[torch.optim.Optimizer]) -> None:
        self.train = train
        self.optimizers = list(optimizers)
        self.steps = 0  # optimiser steps taken in the run so far
        self.horizon = 0
        self.base: list[list[float]] = []

    @staticmethod
    def wanted(train: TrainConfig) -> bool:
        """Whether ``train`` asks for anything but constant rates (else no optimiser is touched)."""
        return train.lr_schedule != "constant" or train.warmup_steps > 0

    @property
    def active(self) -> bool:
        """Whether there are rates to scale (the loop passes no optimiser unless :meth:`wanted`)."""
        return bool(self.optimizers)

    def begin_epoch(self, epoch: int, batches: int, seconds: float) -> None:
        """Fix this epoch's base rates and the run's horizon (``seconds`` spent so far, agreed
        by every process)."""
        self.base = [[group["lr"] for group in opt.param_groups] for opt in self.optimizers]
        remaining_epochs = self.train.epochs - epoch + 1
        horizon = self.steps + remaining_epochs * batches
        if self.train.max_minutes is not None and self.steps > 0 and seconds > 0:
            # the loop stops after the epoch in which the budget runs out: decay to its end
            left = max(self.train.max_minutes * 60 - seconds, 0.0)
            epochs_left = max(math.ceil(left * self.steps / seconds / max(batches, 1)), 1)
            horizon = min(horizon, self.steps + epochs_left * batches)
        self.horizon = max(horizon, self.steps + 1)

    def before_step(self) -> None:
        factor = schedule_factor(self.train.lr_schedule, self.steps, self.train.warmup_steps, self.horizon)
        for opt, rates in zip(self.optimizers, self.base, strict=True):
            for group, rate in zip(opt.param_groups, rates, strict=True):
                group["lr"] = rate * factor
        self.steps += 1

    def end_epoch(self) -> None:
        for opt, rates in zip(self.optimizers, self.base, strict=True):
            for group, rate in zip(opt.param_groups, rates, strict=True):
                group["lr"] = rate

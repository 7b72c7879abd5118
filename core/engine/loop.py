"""The one epoch loop: every training phase (pretraining, transfer) runs through :func:`run_epochs`.

A phase supplies what differs: the module it trains, its batches, one update per batch and
its validation. The loop owns the rest, alike for every phase: seeding the shuffle,
an optional zero-shot epoch 0 (the untrained model as the first candidate), averaging the
epoch's losses across processes, the learning-rate schedule (:mod:`recgraft.engine.schedule`),
handing freed memory back to the system, stopping a diverged run, validating every ``eval_every``
epochs, keeping the best state, early stopping and the time budget, progress, the resume
file, and restoring the best state at the end.

Under torchrun (see :mod:`recgraft.distributed`) every process runs the same loop on its
shard of each epoch's batches; the phase's module is wrapped in
``DistributedDataParallel`` by the phase (:func:`recgraft.distributed.data_parallel`),
validation is split and gathered, and only rank 0 writes the resume file.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recgraft import distributed
from recgraft.engine import resume
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import use_precision
from recgraft.engine.memory import RELEASE_EVERY, release_freed_memory
from recgraft.engine.progress import Progress
from recgraft.engine.schedule import LearningRateSchedule
from recgraft.errors import TrainingDivergedError

#: The validation metric the loop chooses the epoch on.
SELECTION_METRIC = "ndcg@10"


@dataclass
class TrainResult:
    """What a training run did: the chosen epoch (0 = the untrained model, when a phase
    validates it first), its validation metrics and how long it took."""

    epochs: int
    best_epoch: int
    seconds: float
    seconds_to_best: float
    valid: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    processes: int = 1  # how many processes trained together (torchrun)
    zero_shot_valid: dict[str, float] | None = None  # the untrained model's validation metrics
    chosen: dict[str, float] = field(default_factory=dict)  # settings the phase chose on validation


class Phase:
    """What a training phase gives the loop; subclasses implement the first four members.

    ``module`` is what is trained: its state is kept at the best epoch and restored at the
    end. ``epoch_batches`` returns this process's batches for an epoch (shuffled with the
    loop's seeded generator, so a resumed run continues the same stream), ``step`` performs
    one update and returns the losses to report, ``validate`` returns validation metrics
    including ``ndcg@10``.
    """

    module: nn.Module
    device: torch.device
    #: Validate the untrained module before the first epoch and count it as epoch 0.
    zero_shot: bool = False

    def epoch_batches(self, epoch: int, generator: torch.Generator) -> Sequence[Any]:
        raise NotImplementedError

    def step(self, batch: Any) -> Mapping[str, float]:
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        raise NotImplementedError

    def trainable(self) -> bool:
        """Whether there is anything to train (else the run is the zero-shot epoch alone)."""
        return True

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimisers whose learning rates ``train.lr_schedule`` and ``warmup_steps`` scale."""
        return []

    def begin_epoch(self, epoch: int) -> None:
        """Called before each epoch's batches (e.g. to set learning rates)."""

    def end_training(self) -> None:
        """Called once the epochs are over, before the best state is restored."""

    def choose_on_validation(self) -> dict[str, float]:
        """Settings chosen on validation after training (the best state in place); {} for none."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Optimiser and other state a resumed run needs besides the module's."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def should_stop(train: TrainConfig, epoch: int, best_epoch: int, seconds: float, progress: Progress) -> bool:
    """Early stopping: ``patience`` epochs without a better validation score, or the time budget
    spent (decided alike on every process under torchrun)."""
    if epoch - best_epoch >= train.patience:
        return True
    out_of_time = train.max_minutes is not None and seconds > train.max_minutes * 60
    if distributed.any_process(out_of_time):
        progress.log(f"stopping: {train.max_minutes:g} minutes reached")
        return True
    return False


def check_losses(epoch: int, losses: Mapping[str, float]) -> None:
    """Stop a diverged run (a NaN or infinite epoch loss) before its garbage is evaluated,
    chosen or registered."""
    for key, value in losses.items():
        if not math.isfinite(value):
            raise TrainingDivergedError(f"training diverged at epoch {epoch} ({key} {value}); lower the learning rate")


def run_epochs(
    phase: Phase,
    train: TrainConfig,
    *,
    progress: Progress | None = None,
    resume_path: Path | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``phase.module`` until validation NDCG@10 stops improving; it ends with its best state.

    With ``resume_path`` the run saves its state after every epoch and, when the file exists,
    continues from it; it holds the file's lock meanwhile (:func:`recgraft.engine.resume.claim`:
    a second live run on it is refused), and a corrupt file raises
    :class:`~recgraft.errors.ResumeStateError`. The phase's steps and validation run in
    ``train.precision`` (:func:`recgraft.engine.device.use_precision`).
    """
    owned = resume_path is not None and distributed.is_main_process()
    with (resume.claim(resume_path) if owned and resume_path is not None else contextlib.nullcontext(),
          use_precision(train.precision)):
        return _Run(phase, train, progress or Progress(enabled=False), resume_path, on_epoch).run()


class _Run:
    """One call of :func:`run_epochs`: the loop's state between epochs."""

    def __init__(self, phase: Phase, train: TrainConfig, progress: Progress, resume_path: Path | None,
                 on_epoch: Callable[[int, dict[str, float]], None] | None) -> None:
        self.phase, self.train, self.progress = phase, train, progress
        self.resume_path, self.on_epoch = resume_path, on_epoch
        self.generator = torch.Generator().manual_seed(train.seed)
        self.best_score, self.best_epoch = -math.inf, 0
        self.best_state = copy.deepcopy(phase.module.state_dict())
        self.best_valid: dict[str, float] | None = None
        self.zero_shot_valid: dict[str, float] | None = None
        self.history: list[dict[str, float]] = []
        self.first_epoch, self.elapsed_before, self.seconds_to_best = 1, 0.0, 0.0
        self.start = 0.0
        self.schedule = LearningRateSchedule(train, phase.optimizers() if LearningRateSchedule.wanted(train) else [])

    def run(self) -> TrainResult:
        resumed = self.resume_path is not None and self._load()
        self.start = time.perf_counter() - self.elapsed_before
        if self.phase.zero_shot and not resumed:
            self._zero_shot()
        epoch = self.first_epoch - 1
        if self.phase.trainable():
            for epoch in range(self.first_epoch, self.train.epochs + 1):
                record = self._epoch(epoch)
                if should_stop(self.train, epoch, self.best_epoch, record["seconds"], self.progress):
                    break
        else:
            epoch = 0
        self.phase.end_training()
        self.phase.module.load_state_dict(self.best_state)
        self.phase.module.eval()
        chosen = self.phase.choose_on_validation()
        if chosen:
            self.progress.log("chosen on validation: " + ", ".join(f"{k} {v:g}" for k, v in chosen.items()))
        valid = self.best_valid if self.best_valid is not None and not chosen else self.phase.validate()
        self.phase.module.eval()
        return TrainResult(
            epochs=epoch, best_epoch=self.best_epoch, seconds=time.perf_counter() - self.start,
            seconds_to_best=self.seconds_to_best, valid=dict(valid), history=self.history,
            processes=distributed.world_size(), zero_shot_valid=self.zero_shot_valid, chosen=chosen,
        )

    def _zero_shot(self) -> None:
        self.phase.module.eval()
        valid = self.phase.validate()
        self.zero_shot_valid = dict(valid)
        self._consider(0, valid)
        self.history.append({"epoch": 0, f"valid_{SELECTION_METRIC}": valid[SELECTION_METRIC],
                             "seconds": time.perf_counter() - self.start})
        self.progress.log(f"epoch 0 (no training): valid_{SELECTION_METRIC} {valid[SELECTION_METRIC]:.4f}")

    def _consider(self, epoch: int, valid: Mapping[str, float]) -> None:
        """Keep ``epoch``'s state when its validation score beats the best so far."""
        score = float(valid[SELECTION_METRIC])
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self.best_state = copy.deepcopy(self.phase.module.state_dict())
            self.best_valid = {k: float(v) for k, v in valid.items()}
            self.seconds_to_best = time.perf_counter() - self.start

    def _epoch(self, epoch: int) -> dict[str, float]:
        phase, train = self.phase, self.train
        phase.module.train()
        phase.begin_epoch(epoch)
        order = phase.epoch_batches(epoch, self.generator)
        schedule = self.schedule if self.schedule.active else None
        if schedule is not None:
            spent = distributed.average({"seconds": time.perf_counter() - self.start})["seconds"]
            schedule.begin_epoch(epoch, len(order), spent)
        totals: dict[str, float] = {}
        with self.progress.task(f"epoch {epoch}/{train.epochs}", total=len(order)) as advance:
            for step, batch in enumerate(order, 1):
                if schedule is not None:
                    schedule.before_step()
                losses = phase.step(batch)
                if step % RELEASE_EVERY == 0:
                    release_freed_memory()
                for key, value in losses.items():
                    totals[key] = totals.get(key, 0.0) + value
                advance(1, dict(losses))
        if schedule is not None:
            schedule.end_epoch()
        record = distributed.average({key: value / max(len(order), 1) for key, value in totals.items()})
        check_losses(epoch, record)
        record["epoch"] = epoch
        if epoch % train.eval_every == 0 or epoch == train.epochs:
            phase.module.eval()
            valid = phase.validate()
            release_freed_memory()
            record[f"valid_{SELECTION_METRIC}"] = float(valid[SELECTION_METRIC])
            self._consider(epoch, valid)
        record["seconds"] = time.perf_counter() - self.start
        self.history.append(record)
        self.progress.log(f"epoch {epoch}/{train.epochs}: "
                          + " ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
                          + f" ({self._clock(record['seconds'])})")
        if self.on_epoch is not None:
            self.on_epoch(epoch, record)
        if self.resume_path is not None and distributed.is_main_process():
            resume.save(self.resume_path, self._state(epoch, record["seconds"]))
        return record

    def _clock(self, seconds: float) -> str:
        """Elapsed time, and how much of the time budget it is."""
        if self.train.max_minutes is None:
            return f"{seconds:.1f}s"
        budget = self.train.max_minutes * 60
        return f"{seconds:.1f}s of {budget:g}s budget, {min(seconds / budget, 1.0):.0%}"

    # --- resume ----------------------------------------------------------------------------
    def _state(self, epoch: int, elapsed: float) -> dict[str, object]:
        return {
            "model": self.phase.module.state_dict(), "phase": self.phase.state_dict(),
            "best_state": self.best_state, "best_score": self.best_score, "best_epoch": self.best_epoch,
            "best_valid": self.best_valid, "zero_shot_valid": self.zero_shot_valid,
            "history": self.history, "epoch": epoch, "elapsed": elapsed, "seconds_to_best": self.seconds_to_best,
            "generator": self.generator.get_state(), "torch_rng": torch.random.get_rng_state(),
            "schedule_steps": self.schedule.steps,
        }

    def _load(self) -> bool:
        """Continue from the resume file when there is one; whether there was."""
        saved = self.resume_path
        assert saved is not None
        location = "cpu" if distributed.sharded() else self.phase.device
        loaded = distributed.share(lambda: resume.load(saved, location))
        if loaded is None:
            return False
        state: dict[str, Any] = loaded
        try:
            self.phase.module.load_state_dict(state["model"])
            self.phase.load_state_dict(state["phase"])
            self.best_state = state["best_state"]
            self.best_score, self.best_epoch = float(state["best_score"]), int(state["best_epoch"])
            self.best_valid, self.zero_shot_valid = state["best_valid"], state["zero_shot_valid"]
            self.history = list(state["history"])
            self.first_epoch, self.elapsed_before = int(state["epoch"]) + 1, float(state["elapsed"])
            self.seconds_to_best = float(state["seconds_to_best"])
            self.schedule.steps = int(state.get("schedule_steps", 0))
            self.generator.set_state(state["generator"])
            torch.random.set_rng_state(state["torch_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # intact, but not this run's state
            resume.corrupt(saved, f"not this run's state: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        self.progress.log(f"resumed after epoch {self.first_epoch - 1} (best NDCG@10 {self.best_score:.4f})")
        return True

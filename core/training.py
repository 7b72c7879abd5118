"""The training loop: epochs of objective updates, early stopping on validation NDCG@10, resume.

Under torchrun (see :mod:`recgraft.distributed`) each process trains on its shard of every
epoch's windows with gradients averaged across processes, validation is split across them
and gathered, and only rank 0 writes the resume file.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from recgraft import distributed, resume
from recgraft.batching import NextItemExamples, batches, next_item_examples
from recgraft.components import MAX_BATCH, MAX_COUNT, MAX_SEED, ComponentConfig
from recgraft.data.split import LeaveOneOutSplit
from recgraft.device import autocast
from recgraft.encoder import Encoder
from recgraft.errors import TrainingDivergedError
from recgraft.evaluation import evaluate
from recgraft.objective import PretrainingObjective
from recgraft.progress import Progress


class TrainConfig(ComponentConfig):
    """How to train: epochs, batches, optimiser, early stopping."""

    epochs: int = Field(200, ge=1, le=MAX_COUNT, description="most epochs to run")
    batch_size: int = Field(128, ge=1, le=MAX_BATCH, description="training windows per optimiser step (per process under torchrun)")
    learning_rate: float = Field(2e-3, gt=0, description="Adam learning rate (transfer strategies scale it per parameter group)")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay: an L2 penalty added to the gradients")
    sampled_negatives: int = Field(0, ge=0, le=MAX_BATCH, description="0 = full softmax; N = sampled softmax with N negatives")
    clip_grad_norm: float | None = Field(None, gt=0, description="clip the gradients' total norm to this before each step; none: no clipping")
    patience: int = Field(10, ge=1, le=MAX_COUNT, description="epochs without a better validation NDCG@10 before stopping")
    eval_every: int = Field(1, ge=1, le=MAX_COUNT, description="validate every this many epochs (and after the last epoch)")
    all_windows: bool = Field(True, description="train on every window of long histories, not only the latest")
    max_minutes: float | None = Field(None, gt=0, description="stop after this much wall time")
    eval_batch_size: int = Field(512, ge=1, le=MAX_BATCH, description="histories per batch when evaluating (and when caching frozen features)")
    bucket_by_length: bool = Field(
        False, description="batch windows of similar length together: less padding work for encoders that ignore it"
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seeds Python, numpy and torch")


@dataclass
class TrainResult:
    """What a training run did: its best validation metrics and how long it took."""

    epochs: int
    best_epoch: int
    seconds: float
    seconds_to_best: float
    valid: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    processes: int = 1  # how many processes trained together (torchrun)


def should_stop(train: TrainConfig, epoch: int, best_epoch: int, seconds: float, progress: Progress) -> bool:
    """Early stopping: ``patience`` epochs without a better validation score, or the time budget
    spent (decided alike on every process under torchrun)."""
    if epoch - best_epoch >= train.patience:
        return True
    out_of_time = train.max_minutes is not None and seconds > train.max_minutes * 60
    if distributed.any_process(out_of_time):
        progress.log(f"stopping: {train.max_minutes} minutes reached")
        return True
    return False


def check_losses(epoch: int, losses: Mapping[str, float]) -> None:
    """Stop a diverged run (a NaN or infinite epoch loss) before its garbage is evaluated,
    chosen or registered; every training loop calls it on its epoch's averaged losses."""
    for key, value in losses.items():
        if not math.isfinite(value):
            raise TrainingDivergedError(f"training diverged at epoch {epoch} ({key} {value}); lower the learning rate")


def _resume_state(encoder: Encoder, objective: PretrainingObjective, best: dict[str, object]) -> dict[str, object]:
    return {"model": encoder.state_dict(), "objective": objective.state_dict(), **best}


def fit(
    encoder: Encoder,
    split: LeaveOneOutSplit,
    train: TrainConfig,
    device: torch.device,
    objective: PretrainingObjective | None = None,
    examples: NextItemExamples | None = None,
    resume_path: Path | None = None,
    progress: Progress | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``encoder`` on the split's training users until validation NDCG@10 stops improving.

    The encoder ends with its best validation weights. With ``resume_path`` the run saves its
    state after every epoch and, when the file exists, continues from it; it holds the file's
    lock meanwhile (:func:`recgraft.resume.claim`: a second live run on it is refused), and a
    corrupt file raises :class:`~recgraft.errors.ResumeStateError`. Under torchrun the
    processes start from rank 0's weights, keep their windows on the CPU and move only their
    shard of each batch to the device.
    """
    owned = resume_path is not None and distributed.is_main_process()
    with resume.claim(resume_path) if owned and resume_path is not None else contextlib.nullcontext():
        return _fit(encoder, split, train, device, objective, examples, resume_path, progress, on_epoch)


def _fit(
    encoder: Encoder,
    split: LeaveOneOutSplit,
    train: TrainConfig,
    device: torch.device,
    objective: PretrainingObjective | None,
    examples: NextItemExamples | None,
    resume_path: Path | None,
    progress: Progress | None,
    on_epoch: Callable[[int, dict[str, float]], None] | None,
) -> TrainResult:
    generator = torch.Generator().manual_seed(train.seed)
    encoder.to(device)
    objective = objective or encoder.pretraining_objective(train)
    if examples is None:
        examples = next_item_examples(split.train, split.train_users, encoder.config.max_length, train.all_windows)
    rank, world = distributed.rank(), distributed.world_size()
    data_device = torch.device("cpu") if world > 1 else device
    examples = examples.to(data_device)
    progress = progress or Progress(enabled=False)
    shard = distributed.evaluation_shard()
    averager = None
    if world > 1:
        distributed.replicate([*encoder.state_dict().values(),
                               *(p for opt in objective.optimizers() for g in opt.param_groups for p in g["params"])])
        averager = distributed.GradientAverager(objective.optimizers())
        objective.average_gradients = averager

    best_score, best_epoch, best_state = -math.inf, 0, copy.deepcopy(encoder.state_dict())
    history: list[dict[str, float]] = []
    first_epoch, elapsed_before, seconds_to_best = 1, 0.0, 0.0
    saved = resume_path
    location = "cpu" if distributed.sharded() else device
    loaded = distributed.share(lambda: resume.load(saved, location)) if saved is not None else None
    if loaded is not None and saved is not None:
        state: dict[str, Any] = loaded
        try:
            encoder.load_state_dict(state["model"])
            objective.load_state_dict(state["objective"])
            best_state = state["best_state"]
            best_score, best_epoch = float(state["best_score"]), int(state["best_epoch"])
            history = list(state["history"])
            first_epoch, elapsed_before = int(state["epoch"]) + 1, float(state["elapsed"])
            seconds_to_best = float(state["seconds_to_best"])
            generator.set_state(state["generator"])
            torch.random.set_rng_state(state["torch_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # intact, but not this run's state
            resume.corrupt(saved, f"not this run's state: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        progress.log(f"resumed after epoch {first_epoch - 1} (best NDCG@10 {best_score:.4f})")

    def score(histories: torch.Tensor) -> torch.Tensor:
        with autocast(device):
            return encoder.score_items(encoder(histories))

    start = time.perf_counter() - elapsed_before
    epoch = first_epoch - 1
    lengths = examples.lengths() if train.bucket_by_length and encoder.padding_invariant else None
    for epoch in range(first_epoch, train.epochs + 1):
        encoder.train()
        order = batches(len(examples), train.batch_size, generator, data_device, rank, world, lengths)
        totals: dict[str, float] = {}
        with progress.task(f"epoch {epoch}", total=len(order)) as advance:
            for index in order:
                batch = NextItemExamples(examples.inputs[index], examples.targets[index]).to(device)
                if encoder.padding_invariant:
                    batch = batch.trimmed()
                with autocast(device):
                    losses = objective.step(batch)
                for key, value in losses.items():
                    totals[key] = totals.get(key, 0.0) + value
                advance(1, losses)
        record = distributed.average({key: value / max(len(order), 1) for key, value in totals.items()})
        check_losses(epoch, record)
        record["epoch"] = epoch
        if epoch % train.eval_every == 0 or epoch == train.epochs:
            encoder.eval()
            valid = evaluate(score, split, "valid", encoder.config.max_length, device, train.eval_batch_size,
                             trim_padding=encoder.padding_invariant, shard=shard)
            record["valid_ndcg@10"] = float(valid["ndcg@10"])
            if record["valid_ndcg@10"] > best_score:
                best_score, best_epoch = record["valid_ndcg@10"], epoch
                best_state = copy.deepcopy(encoder.state_dict())
                seconds_to_best = time.perf_counter() - start
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        progress.log(
            f"epoch {epoch}: "
            + " ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
            + f" ({record['seconds']:.1f}s)"
        )
        if on_epoch is not None:
            on_epoch(epoch, record)
        if resume_path is not None and distributed.is_main_process():
            state = _resume_state(encoder, objective, {
                "best_state": best_state, "best_score": best_score, "best_epoch": best_epoch,
                "history": history, "epoch": epoch, "elapsed": record["seconds"],
                "seconds_to_best": seconds_to_best, "generator": generator.get_state(),
                "torch_rng": torch.random.get_rng_state(),
            })
            resume.save(resume_path, state)
        if should_stop(train, epoch, best_epoch, record["seconds"], progress):
            break
    if averager is not None:
        averager.close()
        objective.average_gradients = None
    encoder.load_state_dict(best_state)
    encoder.eval()
    valid = evaluate(score, split, "valid", encoder.config.max_length, device, train.eval_batch_size,
                     trim_padding=encoder.padding_invariant, shard=shard)
    return TrainResult(
        epochs=epoch,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - start,
        seconds_to_best=seconds_to_best,
        valid={k: float(v) for k, v in valid.items()},
        history=history,
        processes=world,
    )

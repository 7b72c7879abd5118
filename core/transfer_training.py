"""The transfer training loop: the zero-shot model as epoch 0, early stopping on validation NDCG@10.

Shared by every strategy. Before any update the aligned model is evaluated on the target's
validation split and kept as the first candidate, so early stopping can never end worse
(on validation) than not training at all. When the model's features cannot change (a
frozen encoder, no adapter) they are extracted once, and the epochs train the head on
the cached features. Optional source-domain windows (already mapped to target item ids)
are mixed into each epoch.

Under torchrun each process trains on its shard of every epoch's windows (or cached
positions) with gradients averaged across processes; validation is split and gathered
(see :mod:`recgraft.distributed`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from recgraft import distributed
from recgraft.batching import NextItemExamples, batches, next_item_examples
from recgraft.data.split import LeaveOneOutSplit
from recgraft.device import autocast
from recgraft.evaluation import evaluate
from recgraft.progress import Progress
from recgraft.strategy import TransferStrategy
from recgraft.training import TrainConfig, check_losses, should_stop
from recgraft.transfer_model import TransferModel

#: On tiny training sets (a few dozen users) one pass is one or two updates; an epoch then
#: repeats the data until it holds at least this many, so that patience (in epochs) does not
#: stop a run, the scratch baseline especially, before it has learned anything.
MIN_STEPS_PER_EPOCH = 16


@dataclass
class TransferTrainResult:
    """What training did: the chosen epoch (0 = the untrained, zero-shot model) and its validation metrics."""

    epochs: int
    best_epoch: int
    seconds: float
    valid: dict[str, float]
    zero_shot_valid: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    processes: int = 1  # how many processes trained together (torchrun)
    chosen: dict[str, float] = field(default_factory=dict)  # settings the strategy chose on validation


def scorer(model: TransferModel, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ``histories -> scores`` function for :func:`recgraft.evaluation.evaluate`."""

    def score(histories: torch.Tensor) -> torch.Tensor:
        with autocast(device):
            return model(histories).float()

    return score


def _validate(model: TransferModel, split: LeaveOneOutSplit, train: TrainConfig, device: torch.device) -> dict[str, float]:
    model.eval()
    result = evaluate(scorer(model, device), split, "valid", model.max_length, device, train.eval_batch_size,
                      trim_padding=model.padding_invariant, shard=distributed.evaluation_shard())
    return {k: float(v) for k, v in result.items()}


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
        f, t = model.training_features(chunk.inputs, chunk.targets)
        features.append(f.float())
        targets.append(t)
    if not features:
        return torch.zeros(0, 1), torch.zeros(0, dtype=torch.long)
    return torch.cat(features), torch.cat(targets)


def fit_transfer(
    model: TransferModel,
    strategy: TransferStrategy,
    split: LeaveOneOutSplit,
    train: TrainConfig,
    device: torch.device,
    *,
    source_examples: NextItemExamples | None = None,
    progress: Progress | None = None,
) -> TransferTrainResult:
    """Train ``model`` on the split's training users; it ends with its best validation weights."""
    progress = progress or Progress(enabled=False)
    generator = torch.Generator().manual_seed(train.seed)
    model.to(device)
    rank, world = distributed.rank(), distributed.world_size()
    data_device = torch.device("cpu") if world > 1 else device  # under torchrun, batches move one by one
    distributed.replicate(model.state_dict().values())
    started = time.perf_counter()
    examples = next_item_examples(split.train, split.train_users, model.max_length, train.all_windows).to(data_device)
    zero_shot = _validate(model, split, train, device)
    best_score, best_epoch = zero_shot["ndcg@10"], 0
    best_state = copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = [{"epoch": 0, "valid_ndcg@10": best_score, "seconds": time.perf_counter() - started}]
    progress.log(f"epoch 0 (no training): valid_ndcg@10 {best_score:.4f}")
    groups = strategy.parameter_groups(model, train.learning_rate)
    if not groups or len(examples) == 0:
        return TransferTrainResult(0, 0, time.perf_counter() - started, zero_shot, zero_shot, history, world)
    optimizer = torch.optim.Adam(groups, weight_decay=train.weight_decay)
    base_rates = [group["lr"] for group in optimizer.param_groups]
    parameters = [p for group in groups for p in group["params"]]
    averager = distributed.GradientAverager([optimizer]) if world > 1 else None

    cached = _cached_features(model, examples, train.eval_batch_size, device) if model.features_frozen else None
    positions_per_window = max(1, int((examples.targets > 0).sum()) // max(len(examples), 1))
    mix = strategy.source_mix() if source_examples is not None else 0.0
    invariant = model.padding_invariant  # batches can then drop all-padding columns
    bucket = train.bucket_by_length and invariant
    if source_examples is not None:
        source_examples = source_examples.to(data_device)
    target_lengths = examples.lengths() if bucket else None
    source_lengths = source_examples.lengths() if bucket and source_examples is not None else None

    def epoch_batches(rows: int, batch_size: int, on: torch.device, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
        steps = math.ceil(math.ceil(rows / world) / batch_size)  # this process's batches per pass
        passes = max(1, math.ceil(MIN_STEPS_PER_EPOCH / max(steps, 1)))
        return [index for _ in range(passes)
                for index in batches(rows, batch_size, generator, on, rank, world, lengths)]

    def step(features: torch.Tensor, targets: torch.Tensor) -> float:
        loss = model.loss(features, targets, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if averager is not None:
            averager(optimizer)
        if train.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(parameters, train.clip_grad_norm)
        optimizer.step()
        return float(loss.detach())

    epoch = 0
    for epoch in range(1, train.epochs + 1):
        model.train()
        scales = strategy.learning_rate_scales(epoch)
        for group, rate in zip(optimizer.param_groups, base_rates, strict=True):
            group["lr"] = rate * scales.get(group.get("name", ""), 1.0)
        losses: list[float] = []
        if cached is not None:
            for index in epoch_batches(len(cached[1]), train.batch_size * positions_per_window, device):
                with autocast(device):
                    losses.append(step(cached[0][index], cached[1][index]))
        else:
            inputs, targets, lengths = examples.inputs, examples.targets, target_lengths
            if mix > 0 and source_examples is not None and len(source_examples):
                count = max(1, int(round(mix * len(examples))))
                pick = torch.randint(0, len(source_examples), (count,), generator=generator).to(data_device)
                inputs = torch.cat([inputs, source_examples.inputs[pick]])
                targets = torch.cat([targets, source_examples.targets[pick]])
                if lengths is not None and source_lengths is not None:
                    lengths = torch.cat([lengths, source_lengths[pick]])
            order = epoch_batches(len(inputs), train.batch_size, data_device, lengths)
            with progress.task(f"epoch {epoch}", total=len(order)) as advance:
                for index in order:
                    batch = NextItemExamples(inputs[index], targets[index]).to(device)
                    if invariant:
                        batch = batch.trimmed()
                    with autocast(device):
                        features, wanted = model.training_features(batch.inputs, batch.targets)
                        losses.append(step(features, wanted))
                    advance(1, {"loss": losses[-1]})
        loss = distributed.average({"loss": sum(losses) / max(len(losses), 1)})
        check_losses(epoch, loss)
        record: dict[str, float] = {"epoch": epoch, **loss}
        if epoch % train.eval_every == 0 or epoch == train.epochs:
            record["valid_ndcg@10"] = _validate(model, split, train, device)["ndcg@10"]
            if record["valid_ndcg@10"] > best_score:
                best_score, best_epoch = record["valid_ndcg@10"], epoch
                best_state = copy.deepcopy(model.state_dict())
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        progress.log(
            f"epoch {epoch}: loss {record['loss']:.4f}"
            + (f" valid_ndcg@10 {record['valid_ndcg@10']:.4f}" if "valid_ndcg@10" in record else "")
            + f" ({record['seconds']:.1f}s)"
        )
        if should_stop(train, epoch, best_epoch, record["seconds"], progress):
            break
    if averager is not None:
        averager.close()
    model.load_state_dict(best_state)
    chosen = strategy.choose_on_validation(model, lambda: _validate(model, split, train, device)["ndcg@10"])
    if chosen:
        progress.log("chosen on validation: " + ", ".join(f"{k} {v:g}" for k, v in chosen.items()))
    valid = zero_shot if best_epoch == 0 and not chosen else _validate(model, split, train, device)
    model.eval()
    return TransferTrainResult(epoch, best_epoch, time.perf_counter() - started, valid, zero_shot, history, world,
                               chosen)

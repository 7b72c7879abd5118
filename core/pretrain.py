"""Pretraining an encoder on a domain: split, train, evaluate on test, register.

Training is the engine's one epoch loop (:func:`recgraft.engine.run_epochs`) with the
pretraining phase below: the encoder's own objective supplies each update, and
validation NDCG@10 of the encoder's scorer chooses the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from recgraft import distributed
from recgraft.checkpoint import text_columns, to_bytes, training_provenance
from recgraft.components import parse_model
from recgraft.data.domain import Domain
from recgraft.data.split import (
    Split,
    SplitSpec,
    Stage,
    longest_history,
    require_evaluated_users,
    resolve_split,
)
from recgraft.encoder import Encoder
from recgraft.engine.batching import NextItemExamples, example_batches, next_item_examples
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import (
    autocast,
    precision_for,
    resolve_device,
    seed_everything,
    use_precision,
)
from recgraft.engine.evaluation import evaluate
from recgraft.engine.loop import Phase, TrainResult, run_epochs
from recgraft.engine.memory import check_memory
from recgraft.engine.progress import Progress
from recgraft.errors import ConfigError
from recgraft.item_features import fit_item_features
from recgraft.objective import PretrainingObjective
from recgraft.plugin_manager import catalog
from recgraft.provenance import component_spec

if TYPE_CHECKING:
    from recgraft.registry import CheckpointRecord, Registry


@dataclass
class PretrainedEncoder:
    """A trained encoder with what is needed to use, evaluate and register it."""

    encoder: Encoder
    encoder_name: str
    split: Split
    train_config: TrainConfig
    result: TrainResult
    test: dict[str, Any]
    device: torch.device

    @property
    def domain(self) -> Domain:
        return self.split.domain

    @property
    def metrics(self) -> dict[str, Any]:
        return {"valid": self.result.valid, "test": self.test}

    def to_bytes(self) -> bytes:
        """The checkpoint: encoder weights, its config, the item vocabulary, provenance."""
        metadata = {
            "components": {"encoder": component_spec("encoder", self.encoder_name, self.encoder.config.model_dump())},
            "domain": self.domain.name,
            "split": self.split.spec,
            "train": self.train_config.model_dump(),
            "item_features": text_columns(self.domain.item_features),
            **training_provenance(self.device, precision_for(self.device, self.train_config.precision)),
        }
        return to_bytes({"encoder": self.encoder}, metadata, self.domain.items)

    def register(
        self, registry: Registry, name: str | None = None, parents: Sequence[tuple[str, str]] = ()
    ) -> CheckpointRecord:
        """Store the checkpoint and its record; the name defaults to ``DOMAIN-ENCODER``.

        Under torchrun only rank 0 may register.
        """
        if not distributed.is_main_process():
            raise ConfigError("under torchrun only rank 0 registers (see recgraft.distributed.is_main_process)")
        processes = {"processes": self.result.processes} if self.result.processes > 1 else {}
        return registry.register(
            name or f"{self.domain.name}-{self.encoder_name}",
            self.to_bytes(),
            domain=self.domain.name,
            encoder=self.encoder_name,
            encoder_config=self.encoder.config.model_dump(),
            metrics=self.metrics,
            dataset_fingerprint=self.domain.fingerprint(),
            **training_provenance(self.device, precision_for(self.device, self.train_config.precision)),
            parents=parents,
            extra={"split": self.split.spec, "epochs": self.result.epochs, "best_epoch": self.result.best_epoch,
                   "seconds": round(self.result.seconds, 2), "parameters": self.encoder.num_parameters(),
                   **processes},
        )


def with_pretraining_defaults(train: TrainConfig, encoder: str | Encoder | type[Encoder]) -> TrainConfig:
    """``train`` with the encoder's ``pretraining_defaults`` (by name, instance or class) for
    every field its caller left unset."""
    if isinstance(encoder, str):
        cls: type[Encoder] = catalog().get("encoder", encoder)
    else:
        cls = encoder if isinstance(encoder, type) else type(encoder)
    defaults = {k: v for k, v in cls.pretraining_defaults.items() if k not in train.model_fields_set}
    if not defaults:
        return train
    where = f"{cls.__name__}.pretraining_defaults"
    return parse_model(where, TrainConfig, {**train.model_dump(exclude_unset=True), **defaults})


def build_encoder(name: str, config: Mapping[str, Any] | None, num_items: int) -> Encoder:
    """A fresh encoder by name, its config validated first."""
    encoder: Encoder = catalog().build("encoder", name, config, num_items)
    return encoder


def evaluate_encoder(encoder: Encoder, split: Split, stage: Stage, device: torch.device,
                     batch_size: int = 512) -> dict[str, Any]:
    """Full-ranking metrics of ``encoder`` on ``stage`` (split across processes under torchrun)."""
    encoder.eval()
    return evaluate(encoder.scorer(device), split, stage, encoder.config.max_length, device, batch_size,
                    trim_padding=encoder.padding_invariant, shard=distributed.evaluation_shard())


class PretrainingPhase(Phase):
    """The loop's pretraining phase: the encoder's objective updates it on next-item windows.

    Under torchrun each process trains on its shard of every epoch's windows, kept on the
    CPU with only the shard's batches moved to the device; an objective that wraps nothing
    with ``parallel`` (DDP) gets its gradients averaged at its optimisers instead.
    """

    def __init__(self, encoder: Encoder, split: Split, train: TrainConfig, device: torch.device,
                 objective: PretrainingObjective | None = None, examples: NextItemExamples | None = None) -> None:
        self.module, self.split, self.train, self.device = encoder.to(device), split, train, device
        self.encoder = encoder
        self.objective = objective or encoder.pretraining_objective(train)
        if examples is None:
            examples = next_item_examples(split.train, split.train_users, encoder.config.max_length, train.all_windows)
        self.data_device = torch.device("cpu") if distributed.sharded() else device
        self.examples = examples.to(self.data_device)
        self.lengths = self.examples.lengths() if train.bucket_by_length and encoder.padding_invariant else None
        self.averager: distributed.GradientAverager | None = None
        if distributed.sharded() and not self.objective.parallel_modules:
            distributed.replicate([*encoder.state_dict().values(), *(
                p for opt in self.objective.optimizers() for g in opt.param_groups for p in g["params"])])
            self.averager = distributed.GradientAverager(self.objective.optimizers())
            self.objective.average_gradients = self.averager

    def epoch_batches(self, epoch: int, generator: torch.Generator) -> list[NextItemExamples]:
        return example_batches(self.examples, self.train.batch_size, generator, self.device,
                               trim=self.encoder.padding_invariant, lengths=self.lengths)

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        with autocast(self.device):
            return self.objective.step(batch.to(self.device))

    def optimizers(self) -> list[torch.optim.Optimizer]:
        try:
            return self.objective.optimizers()
        except NotImplementedError:
            raise ConfigError(f"train.lr_schedule and train.warmup_steps need {type(self.objective).__name__}."
                              "optimizers(), which it does not implement") from None

    def validate(self) -> dict[str, float]:
        valid = evaluate_encoder(self.encoder, self.split, "valid", self.device, self.train.eval_batch_size)
        return {k: float(v) for k, v in valid.items()}

    def end_training(self) -> None:
        if self.averager is not None:
            self.averager.close()
            self.objective.average_gradients = None

    def state_dict(self) -> dict[str, Any]:
        return {"objective": self.objective.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.objective.load_state_dict(state["objective"])


def fit(encoder: Encoder, split: Split, train: TrainConfig, device: torch.device,
        objective: PretrainingObjective | None = None, examples: NextItemExamples | None = None,
        resume_path: Path | None = None, progress: Progress | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Train ``encoder`` on the split's training users until validation NDCG@10 stops
    improving; it ends with its best validation weights (see :func:`recgraft.engine.run_epochs`)."""
    phase = PretrainingPhase(encoder, split, train, device, objective, examples)
    return run_epochs(phase, train, progress=progress, resume_path=resume_path, on_epoch=on_epoch)


def pretrain(
    domain: Domain | Split,
    encoder: str | Encoder = "transformer",
    encoder_config: Mapping[str, Any] | None = None,
    train: TrainConfig | Mapping[str, Any] | None = None,
    device: str = "auto",
    progress: bool | Progress = False,
    resume: Path | None = None,
    split: str | SplitSpec | None = None,
) -> PretrainedEncoder:
    """Pretrain an encoder with its own objective; choose the epoch on validation, report test.

    ``split`` names the evaluation protocol (``loo``, the default; ``ratio:0.8,0.1,0.1``,
    ``ratio-time:...``, ``temporal:0.8,0.1``; see :func:`recgraft.data.split.parse_split`),
    made from ``domain`` with the train config's seed; ``domain`` may be a split already.
    Under torchrun, inside :func:`recgraft.distributed.session`, the processes train together
    and progress shows on rank 0 only.
    """
    train_config = with_pretraining_defaults(parse_model("train config", TrainConfig, train), encoder)
    data = resolve_split(domain, split, train_config.seed)
    require_evaluated_users(data)
    torch_device = resolve_device(device)
    seed_everything(train_config.seed)
    where = f"domain {data.domain.name!r}"
    if isinstance(encoder, Encoder):
        name, config = catalog().name_of("encoder", encoder), encoder.config
    else:
        name = encoder
        config = fit_item_features(catalog().config("encoder", encoder, encoder_config), data.domain.item_features, where)
    check_memory(f"encoder '{name}'", config, data.domain.num_items, longest_history(data),
                 train_config, torch_device)  # before building a model that may not fit
    model = encoder if isinstance(encoder, Encoder) else build_encoder(name, config, data.domain.num_items)
    model.set_item_features(data.domain.item_features, where)
    reporter = progress if isinstance(progress, Progress) else Progress(enabled=progress and distributed.is_main_process())
    reporter.log(
        f"pretraining {name} ({model.num_parameters():,} parameters) on {data.domain.name} "
        f"({data.domain.num_users:,} users, {data.domain.num_items:,} items) on {torch_device}"
    )
    result = fit(model, data, train_config, torch_device, resume_path=resume, progress=reporter)
    with use_precision(train_config.precision):
        test = evaluate_encoder(model, data, "test", torch_device, train_config.eval_batch_size)
    return PretrainedEncoder(model, name, data, train_config, result, test, torch_device)

"""Pretraining an encoder on a domain: split, train, evaluate on test, register."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from recgraft import distributed
from recgraft.checkpoint import text_columns, to_bytes, training_provenance
from recgraft.components import parse_model
from recgraft.data.domain import Domain
from recgraft.data.split import (
    LeaveOneOutSplit,
    leave_one_out,
    longest_history,
    require_evaluated_users,
)
from recgraft.device import precision_for, resolve_device, seed_everything
from recgraft.encoder import Encoder
from recgraft.errors import ConfigError
from recgraft.evaluation import evaluate
from recgraft.memory import check_memory
from recgraft.plugin_manager import catalog
from recgraft.progress import Progress
from recgraft.provenance import component_spec
from recgraft.training import TrainConfig, TrainResult, fit

if TYPE_CHECKING:
    from recgraft.registry import CheckpointRecord, Registry


@dataclass
class PretrainedEncoder:
    """A trained encoder with what is needed to use, evaluate and register it."""

    encoder: Encoder
    encoder_name: str
    split: LeaveOneOutSplit
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
            "train": self.train_config.model_dump(),
            "item_features": text_columns(self.domain.item_features),
            **training_provenance(self.device, precision_for(self.device)),
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
            **training_provenance(self.device, precision_for(self.device)),
            parents=parents,
            extra={"epochs": self.result.epochs, "best_epoch": self.result.best_epoch,
                   "seconds": round(self.result.seconds, 2), "parameters": self.encoder.num_parameters(),
                   **processes},
        )


def build_encoder(name: str, config: Mapping[str, Any] | None, num_items: int) -> Encoder:
    """A fresh encoder by name, its config validated first."""
    cls = catalog().get("encoder", name)
    return cls(catalog().config("encoder", name, config), num_items)


def pretrain(
    domain: Domain | LeaveOneOutSplit,
    encoder: str | Encoder = "transformer",
    encoder_config: Mapping[str, Any] | None = None,
    train: TrainConfig | Mapping[str, Any] | None = None,
    device: str = "auto",
    progress: bool | Progress = False,
    resume: Path | None = None,
) -> PretrainedEncoder:
    """Pretrain an encoder with its own objective; choose the epoch on validation, report test.

    Under torchrun, inside :func:`recgraft.distributed.session`, the processes train together
    and progress shows on rank 0 only.
    """
    train_config = parse_model("train config", TrainConfig, train)
    split = domain if isinstance(domain, LeaveOneOutSplit) else leave_one_out(domain)
    require_evaluated_users(split)
    torch_device = resolve_device(device)
    seed_everything(train_config.seed)
    if isinstance(encoder, Encoder):
        name, config = catalog().name_of("encoder", encoder), encoder.config
    else:
        name, config = encoder, catalog().config("encoder", encoder, encoder_config)
    check_memory(f"encoder '{name}'", config, split.domain.num_items, longest_history(split),
                 train_config, torch_device)  # before building a model that may not fit
    model = encoder if isinstance(encoder, Encoder) else build_encoder(name, config, split.domain.num_items)
    reporter = progress if isinstance(progress, Progress) else Progress(enabled=progress and distributed.is_main_process())
    reporter.log(
        f"pretraining {name} ({model.num_parameters():,} parameters) on {split.domain.name} "
        f"({split.domain.num_users:,} users, {split.domain.num_items:,} items) on {torch_device}"
    )
    result = fit(model, split, train_config, torch_device, resume_path=resume, progress=reporter)

    def score(histories: torch.Tensor) -> torch.Tensor:
        return model.score_items(model(histories))

    test = evaluate(score, split, "test", model.config.max_length, torch_device, train_config.eval_batch_size,
                    trim_padding=model.padding_invariant, shard=distributed.evaluation_shard())
    return PretrainedEncoder(model, name, split, train_config, result, test, torch_device)

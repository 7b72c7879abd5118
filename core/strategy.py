"""The transfer-strategy contract: how a target model is built from a pretrained one and trained.

A strategy decides which weights start from the checkpoint, which are frozen, what is
added (a target-domain encoder, a gate) and at which learning rates each part trains. The
training loop itself is shared (``recgraft.transfer.training``), so strategies differ only
in what they build and how they group parameters, never through branches in the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from pydantic import Field

from recgraft.components import MAX_COUNT, Component, ComponentConfig
from recgraft.encoder import Encoder
from recgraft.errors import ConfigError
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head
from recgraft.item_features import copy_catalogue
from recgraft.plugin_manager import catalog
from recgraft.transfer_model import TransferModel

HeadFactory = Callable[[int, int], Head]  # (feature_dim, item_dim) -> a fresh head
PretrainedLoader = Callable[[str, bool], Encoder]  # (reference, fresh) -> an encoder aligned to the target


class TransferStrategyConfig(ComponentConfig):
    """Settings every strategy has; strategies subclass it."""

    item_bias: bool = Field(True, description="learn a per-item score bias on the target (popularity shift)")
    head_lr_scale: float = Field(1.0, gt=0, description="head learning rate, relative to train.learning_rate")


class PretrainedStrategyConfig(TransferStrategyConfig):
    """Settings of a strategy that keeps training pretrained weights: how fast each part moves."""

    encoder_lr_scale: float = Field(0.3, gt=0, description="encoder learning rate, relative to train.learning_rate")
    item_lr_scale: float = Field(1.0, gt=0, description="learning rate of the item tables (new items included), relative")
    freeze: list[str] = Field(
        default_factory=list, description="encoder parameter-name prefixes to keep frozen, e.g. 'blocks.0'"
    )
    head_first_epochs: int = Field(
        0, ge=0, le=MAX_COUNT, description="first epochs in which the encoder stays still and only the head and item tables train"
    )


@dataclass
class TransferContext:
    """What a strategy builds from: the pretrained encoder, already aligned to the target."""

    encoder: Encoder  # pretrained weights, item tables resized to the target catalogue
    encoder_name: str
    extractor: FeatureExtractor
    make_head: HeadFactory
    num_items: int  # target catalogue size, pad excluded
    load_pretrained: PretrainedLoader | None = None  # set by the pipeline when it has a checkpoint reader

    def fresh_encoder(self) -> Encoder:
        """A randomly initialised encoder of the same kind and config, on the same device."""
        encoder: Encoder = catalog().build("encoder", self.encoder_name, self.encoder.config.model_dump(), self.num_items)
        copy_catalogue(self.encoder, encoder)  # the target items' feature inputs, when it has item features
        return encoder.to(self.encoder.item_vectors().device)

    def pretrained_encoder(self, reference: str, fresh: bool = False) -> Encoder:
        """The encoder of another registered checkpoint (``NAME@N``, any architecture), its item
        table aligned to the target catalogue as the main encoder's is; ``fresh``: the same
        architecture from a random start (a control). The transfer's checkpoint records the
        architecture, so reloading the trained model needs no registry."""
        if self.load_pretrained is None:
            raise ConfigError(f"checkpoint {reference!r}: this transfer cannot read other checkpoints "
                              "(build it with Transfer.from_checkpoint or checkpoints=...)")
        return self.load_pretrained(reference, fresh).to(self.encoder.item_vectors().device)


class TransferStrategy(Component):
    """Base class of transfer strategies (a plugin subclasses it and registers it by name)."""

    Config: ClassVar[type[TransferStrategyConfig]] = TransferStrategyConfig
    #: True when the strategy starts from pretrained weights; False for the ``scratch`` baseline.
    uses_pretrained: ClassVar[bool] = True

    def __init__(self, config: TransferStrategyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def build(self, context: TransferContext) -> TransferModel:
        """The target model, before training."""
        raise NotImplementedError

    def parameter_groups(self, model: TransferModel, learning_rate: float) -> list[dict[str, Any]]:
        """Optimizer parameter groups; by default the encoder at ``learning_rate``, the rest scaled
        by ``head_lr_scale``. Frozen parameters are left out."""
        encoder_ids = {id(p) for p in model.encoder.parameters()}
        encoder = [p for p in model.encoder.parameters() if p.requires_grad]
        rest = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
        return _groups(
            (encoder, learning_rate, "encoder"),
            (rest, learning_rate * self.config.head_lr_scale, "head"),
        )

    def source_mix(self) -> float:
        """Source-domain training windows to mix in per target window (0: none)."""
        return 0.0

    def learning_rate_scales(self, epoch: int) -> dict[str, float]:
        """Factors on the learning rates of the named parameter groups during ``epoch`` (from 1);
        groups not named keep theirs. A schedule such as "the head first, then the encoder"."""
        return {}

    def choose_on_validation(self, model: TransferModel, validate: Callable[[], float]) -> dict[str, float]:
        """After training, settings no gradient can learn (a blend's weight) chosen on ``validate()``
        (validation NDCG@10 of ``model`` as it stands); they are set on ``model`` and returned. Default: none."""
        return {}

    def describe(self) -> dict[str, object]:
        return self.config.model_dump()


def _groups(*parts: tuple[list[torch.nn.Parameter], float, str]) -> list[dict[str, Any]]:
    """Non-empty optimizer groups from ``(params, lr, name)`` triples."""
    return [{"params": params, "lr": lr, "name": name} for params, lr, name in parts if params]


def parameter_groups(*parts: tuple[list[torch.nn.Parameter], float, str]) -> list[dict[str, Any]]:
    """Public helper for strategies: optimizer groups from ``(params, lr, name)``, empty ones dropped."""
    return _groups(*parts)


def freeze_layers(encoder: Encoder, prefixes: list[str], strategy: str) -> None:
    """Stop the gradients of ``encoder``'s parameters named by any of ``prefixes`` (``blocks``,
    ``blocks.0``); a prefix that names nothing is a :class:`ConfigError` naming the choices."""
    names = [name for name, _ in encoder.named_parameters()]
    for prefix in prefixes:
        hits = {n for n in names if n == prefix or n.startswith(prefix + ".")}
        if not hits:
            top = sorted({n.split(".")[0] for n in names})
            raise ConfigError(
                f"strategy {strategy!r}: freeze: no encoder parameter starts with {prefix!r} "
                f"(top-level names: {', '.join(top)})"
            )
        for name, param in encoder.named_parameters():
            if name in hits:
                param.requires_grad_(False)


def pretrained_parts(
    model: TransferModel, exclude: torch.nn.Module | None = None
) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """A model's trainable parameters as (encoder layers, item tables, everything else), the
    three parts a strategy starting from pretrained weights trains at different rates.
    Parameters of ``exclude`` (a submodule the strategy groups itself) are left out."""
    item_ids = {id(p) for p in model.encoder.item_parameters()}
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    skipped = {id(p) for p in exclude.parameters()} if exclude is not None else set()
    trainable = [p for p in model.parameters() if p.requires_grad and id(p) not in skipped]
    return (
        [p for p in trainable if id(p) in encoder_ids and id(p) not in item_ids],
        [p for p in trainable if id(p) in item_ids],
        [p for p in trainable if id(p) not in encoder_ids],
    )

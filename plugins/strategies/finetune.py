"""The ``finetune`` strategy: every weight starts from the checkpoint and keeps training.

Naive fine-tuning (one learning rate for everything) barely beats training from scratch
when the target is sparse: the small target set pulls the pretrained encoder away from
what it knew. Here the encoder trains at a lower learning rate than the head and the
per-item parameters (``encoder_lr_scale``, ``item_lr_scale``), chosen layers can stay
frozen (``freeze``, by parameter-name prefix), and source-domain windows can be mixed into
each epoch (``source_mix``) to keep the source knowledge. With ``head_first_epochs`` the
encoder waits while the head and item tables fit the target (linear probing, then
fine-tuning), so its first updates do not follow an untrained head. Early stopping on validation
starts from the zero-shot model, so fine-tuning never ends worse than no training on
validation.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from recgraft.strategy import (
    PretrainedStrategyConfig,
    TransferContext,
    TransferStrategy,
    freeze_layers,
    parameter_groups,
    pretrained_parts,
)
from recgraft.transfer_model import TransferModel


class FinetuneStrategyConfig(PretrainedStrategyConfig):
    source_mix: float = Field(
        0.0, ge=0, description="source-domain windows mixed into each epoch, per target window (needs the source data)"
    )


class FinetuneStrategy(TransferStrategy):
    """All pretrained weights train, the encoder slower than the head; optional frozen layers."""

    Config = FinetuneStrategyConfig
    config: FinetuneStrategyConfig

    def build(self, context: TransferContext) -> TransferModel:
        encoder = context.encoder
        freeze_layers(encoder, self.config.freeze, "finetune")
        head = context.make_head(context.extractor.output_dim(encoder), encoder.output_dim)
        return TransferModel(encoder, context.extractor, head, item_bias=self.config.item_bias).to(
            encoder.item_vectors().device
        )

    def parameter_groups(self, model: TransferModel, learning_rate: float) -> list[dict[str, Any]]:
        layers, items, rest = pretrained_parts(model)
        return parameter_groups(
            (layers, learning_rate * self.config.encoder_lr_scale, "encoder"),
            (items, learning_rate * self.config.item_lr_scale, "items"),
            (rest, learning_rate * self.config.head_lr_scale, "head"),
        )

    def source_mix(self) -> float:
        return self.config.source_mix

    def learning_rate_scales(self, epoch: int) -> dict[str, float]:
        return {"encoder": 0.0} if epoch <= self.config.head_first_epochs else {}

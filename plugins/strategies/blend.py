"""The ``blend`` strategy: a fine-tuned model and a target-only model, their predictions mixed.

A model fine-tuned from the checkpoint and one trained from a random start on the target
learn different things from the same data: the first keeps what the source taught, the
second fits the target's own co-occurrences, and their mistakes differ. Both train side
by side, each on its own loss, and the pair ranks items by
``weight * log p_finetuned + (1 - weight) * log p_target``; early stopping watches the
blend. With ``weight_choices`` the weight is chosen again after training, on validation,
among those candidates (the checkpoint keeps the chosen one). With ``partner=NAME@N`` the
partner is another pretrained checkpoint (another architecture, say) fine-tuned beside the
first instead of a random start: two sources that learned differently, both adapted to the
target. The pair costs two models, so ``pretrained=false`` builds the same pair from two
random starts: the control that shows what blending alone buys, without the transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import torch
from pydantic import Field

from recgraft.encoder import Encoder
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head
from recgraft.strategy import (
    PretrainedStrategyConfig,
    TransferContext,
    TransferStrategy,
    freeze_layers,
    parameter_groups,
    pretrained_parts,
)
from recgraft.transfer_model import TransferModel


class BlendStrategyConfig(PretrainedStrategyConfig):
    """The fine-tuned member's settings (``encoder_lr_scale``, ``freeze``, ...) and the blend's own."""

    weight: float = Field(0.7, ge=0, le=1, description="weight of the fine-tuned model's log-probabilities")
    weight_choices: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=list,
        description="weights tried on validation after training; the best replaces weight (empty: keep weight)",
    )
    pretrained: bool = Field(True, description="false: both models start at random (the blending-only control)")
    partner: str | None = Field(
        None, description="registered checkpoint to fine-tune as the partner (NAME@N; none: a random start)"
    )


class BlendedModel(TransferModel):
    """A TransferModel (the fine-tuned member) with a ``partner`` trained beside it.

    Features are the two members' features side by side; each member scores its half and
    the blend mixes their log-probabilities, so evaluation, recommendation and checkpoints
    treat the pair as one model.
    """

    def __init__(
        self, encoder: Encoder, extractor: FeatureExtractor, head: Head, partner: TransferModel,
        *, weight: float, item_bias: bool,
    ) -> None:
        super().__init__(encoder, extractor, head, item_bias=item_bias)
        self.partner = partner
        self.weight = weight
        self.own_dim = extractor.output_dim(encoder)

    def _halves(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return features[..., : self.own_dim], features[..., self.own_dim :]

    def features(self, history: torch.Tensor) -> torch.Tensor:
        return torch.cat([super().features(history), self.partner.features(history)], dim=-1)

    def sequence_features(self, history: torch.Tensor) -> torch.Tensor | None:
        own, partner = super().sequence_features(history), self.partner.sequence_features(history)
        if own is None or partner is None:
            return None
        return torch.cat([own, partner], dim=-1)

    def score(self, features: torch.Tensor) -> torch.Tensor:
        own, partner = self._halves(features)
        mine = torch.log_softmax(super().score(own).float(), dim=-1)
        theirs = torch.log_softmax(self.partner.score(partner).float(), dim=-1)
        return self.weight * mine + (1.0 - self.weight) * theirs

    def pair_logits(self, history: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Binary heads: the members' logits, mixed with the same weight."""
        mine, theirs = super().pair_logits(history, items), self.partner.pair_logits(history, items)
        return self.weight * mine + (1.0 - self.weight) * theirs

    def loss(self, features: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        own, partner = self._halves(features)
        return super().loss(own, targets, generator) + self.partner.loss(partner, targets, generator)


class BlendStrategy(TransferStrategy):
    """Fine-tune the checkpoint and train a partner beside it (a random start or another
    checkpoint, fine-tuned too); rank by their blend."""

    Config = BlendStrategyConfig
    config: BlendStrategyConfig

    def build(self, context: TransferContext) -> TransferModel:
        if self.config.pretrained:
            encoder = context.encoder
            freeze_layers(encoder, self.config.freeze, "blend")
        else:
            encoder = context.fresh_encoder()
        if self.config.partner is None:
            partner_encoder = context.fresh_encoder()
        else:
            partner_encoder = context.pretrained_encoder(self.config.partner, fresh=not self.config.pretrained)
        partner = TransferModel(
            partner_encoder, context.extractor,
            context.make_head(context.extractor.output_dim(partner_encoder), partner_encoder.output_dim),
            item_bias=self.config.item_bias,
        )
        head = context.make_head(context.extractor.output_dim(encoder), encoder.output_dim)
        return BlendedModel(encoder, context.extractor, head, partner, weight=self.config.weight,
                            item_bias=self.config.item_bias).to(encoder.item_vectors().device)

    def parameter_groups(self, model: TransferModel, learning_rate: float) -> list[dict[str, Any]]:
        assert isinstance(model, BlendedModel), "blend groups the parameters of the pair it built"
        layers, items, rest = pretrained_parts(model, exclude=model.partner)
        partner = list(model.partner.parameters())
        scaled = self.config.pretrained
        if scaled and self.config.partner is not None:  # a pretrained partner trains like the first member
            partner_layers, partner_items, partner_rest = pretrained_parts(model.partner)
            layers, items, rest, partner = layers + partner_layers, items + partner_items, rest + partner_rest, []
        return parameter_groups(
            (layers, learning_rate * (self.config.encoder_lr_scale if scaled else 1.0), "encoder"),
            (items, learning_rate * (self.config.item_lr_scale if scaled else 1.0), "items"),
            (rest, learning_rate * self.config.head_lr_scale, "head"),
            (partner, learning_rate, "partner"),
        )

    def learning_rate_scales(self, epoch: int) -> dict[str, float]:
        waiting = self.config.pretrained and epoch <= self.config.head_first_epochs
        return {"encoder": 0.0} if waiting else {}

    def choose_on_validation(self, model: TransferModel, validate: Callable[[], float]) -> dict[str, float]:
        """The weight among ``weight_choices`` with the best validation NDCG@10 (the first on a tie)."""
        assert isinstance(model, BlendedModel), "blend chooses the weight of the pair it built"
        if not self.config.weight_choices:
            return {}
        scores = {}
        for weight in self.config.weight_choices:
            model.weight = weight
            scores[weight] = validate()
        model.weight = max(scores, key=lambda weight: scores[weight])
        return {"weight": model.weight}

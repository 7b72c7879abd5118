"""The ``fusion`` strategy: frozen pretrained features fused with a target encoder trained from scratch.

The seed article's second transfer mode ("fused with the new task's own data"). A fresh
encoder of the same kind learns the target domain; its features and the frozen pretrained
ones are mixed through a learned gate ``g * p + (1 - g) * W t`` or a residual MLP
``p + MLP([p; t])``. The gate starts almost closed on the target side and ``W`` (or the
MLP's last layer) at zero, so training starts from the pretrained (zero-shot) scores.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from recgraft.components import MAX_DIM
from recgraft.encoder import Encoder
from recgraft.extractor import FeatureExtractor
from recgraft.strategy import TransferContext, TransferStrategy, TransferStrategyConfig
from recgraft.transfer_model import FeatureAdapter, TransferModel


class FusionStrategyConfig(TransferStrategyConfig):
    fuse: Literal["gate", "mlp"] = Field("gate", description="how the two feature sets are combined")
    hidden_dim: int = Field(128, ge=1, le=MAX_DIM, description="hidden size of the fusion MLP")
    gate_init: float = Field(2.0, description="initial gate bias (sigmoid(2) = 0.88 on the pretrained side)")
    train_items: bool = Field(True, description="learn a per-item offset to the frozen item vectors")


class FusionAdapter(FeatureAdapter):
    """Pretrained features ``p`` (B, F) fused with a target encoder's features ``t``."""

    def __init__(self, target: Encoder, extractor: FeatureExtractor, feature_dim: int, config: FusionStrategyConfig) -> None:
        super().__init__()
        self.target = target
        self.extractor = extractor
        self.fuse = config.fuse
        self.output_dim = feature_dim
        target_dim = extractor.output_dim(target)
        if config.fuse == "gate":
            self.gate = nn.Linear(feature_dim + target_dim, feature_dim)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, config.gate_init)
            self.project = nn.Linear(target_dim, feature_dim)
            nn.init.zeros_(self.project.weight)
            nn.init.zeros_(self.project.bias)
        else:
            last = nn.Linear(config.hidden_dim, feature_dim)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.mlp = nn.Sequential(nn.Linear(feature_dim + target_dim, config.hidden_dim), nn.GELU(), last)

    def _combine(self, pretrained: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([pretrained, target], dim=-1)
        if self.fuse == "gate":
            g = torch.sigmoid(self.gate(joined))
            return g * pretrained + (1.0 - g) * self.project(target)
        return pretrained + self.mlp(joined)

    def forward(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return self._combine(features, self.extractor.extract(self.target, history))

    def sequence(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor | None:
        target = self.extractor.extract_sequence(self.target, history)
        if target is None or target.shape[1] != features.shape[1]:
            return None
        return self._combine(features, target)


class FusionStrategy(TransferStrategy):
    """Frozen pretrained encoder + a target encoder from scratch + a learned gate (or MLP)."""

    Config = FusionStrategyConfig
    config: FusionStrategyConfig

    def build(self, context: TransferContext) -> TransferModel:
        encoder = context.encoder
        feature_dim = context.extractor.output_dim(encoder)
        adapter = FusionAdapter(context.fresh_encoder(), context.extractor, feature_dim, self.config)
        head = context.make_head(feature_dim, encoder.output_dim)
        return TransferModel(
            encoder, context.extractor, head, adapter=adapter, freeze_encoder=True,
            item_offset=self.config.train_items, item_bias=self.config.item_bias,
        ).to(encoder.item_vectors().device)

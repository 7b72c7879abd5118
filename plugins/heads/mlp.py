"""The ``mlp`` head: a small MLP on the features, then dot-product scoring against the items.

When the feature and item sizes match, the MLP is a residual branch whose last layer starts
at zero, so training starts from the pretrained (zero-shot) scores and learns a correction.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from recgraft.components import MAX_DIM, MAX_LAYERS
from recgraft.head import Head, HeadConfig


class MLPHeadConfig(HeadConfig):
    hidden_dim: int = Field(128, ge=1, le=MAX_DIM, description="width of each hidden layer")
    num_layers: int = Field(1, ge=1, le=MAX_LAYERS, description="hidden layers")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout rate after each hidden layer")
    residual: bool = Field(True, description="add the features when sizes match (identity start)")


class MLPHead(Head):
    """``items @ (x + MLP(x))`` (residual) or ``items @ MLP(x)``."""

    Config = MLPHeadConfig
    config: MLPHeadConfig

    def __init__(self, config: MLPHeadConfig, feature_dim: int, item_dim: int) -> None:
        super().__init__(config, feature_dim, item_dim)
        layers: list[nn.Module] = []
        size = feature_dim
        for _ in range(config.num_layers):
            layers += [nn.Linear(size, config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout)]
            size = config.hidden_dim
        last = nn.Linear(size, item_dim)
        layers.append(last)
        self.network = nn.Sequential(*layers)
        self.residual = config.residual and feature_dim == item_dim
        if self.residual:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def user_vectors(self, features: torch.Tensor) -> torch.Tensor:
        out = self.network(features)  # (B, D)
        return features + out if self.residual else out

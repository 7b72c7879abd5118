"""The ``sigmoid`` head: the seed article's binary "will this user interact with this item".

The seed concatenates the user and item representations, passes them through a small
dense layer and a sigmoid, and trains with binary cross-entropy. Here the user features and
the item embedding go through one hidden layer; a bilinear term ``<P u, i>`` (on by
default) lets the same head rank the whole catalogue well. Trained with BCE on the true
next item against uniformly sampled negatives; ``sigmoid(logit)`` is the probability.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from recgraft.components import MAX_BATCH, MAX_DIM
from recgraft.head import Head, HeadConfig, sample_negatives


class SigmoidHeadConfig(HeadConfig):
    hidden_dim: int = Field(32, ge=1, le=MAX_DIM, description="size of the dense layer over [user; item]")
    negatives: int = Field(4, ge=1, le=MAX_BATCH, description="sampled negatives per positive in the BCE loss")
    bilinear: bool = Field(True, description="add <P u, i>, so the head also ranks well")
    chunk: int = Field(256, ge=1, le=MAX_BATCH, description="users per chunk when scoring the whole catalogue")


class SigmoidHead(Head):
    """``logit(u, i) = <P u, i> + w . relu(U u + V i + b) + c``; probability ``sigmoid(logit)``."""

    Config = SigmoidHeadConfig
    config: SigmoidHeadConfig
    binary = True

    def __init__(self, config: SigmoidHeadConfig, feature_dim: int, item_dim: int) -> None:
        super().__init__(config, feature_dim, item_dim)
        self.user_layer = nn.Linear(feature_dim, config.hidden_dim)
        self.item_layer = nn.Linear(item_dim, config.hidden_dim, bias=False)
        self.output = nn.Linear(config.hidden_dim, 1)
        self.projection: nn.Module | None = None
        if config.bilinear:
            linear = nn.Linear(feature_dim, item_dim, bias=False)
            if feature_dim == item_dim:
                nn.init.eye_(linear.weight)
            self.projection = linear

    def _logits(self, features: torch.Tensor, items: torch.Tensor, per_user: bool) -> torch.Tensor:
        user_part = self.user_layer(features)  # (B, H)
        item_part = self.item_layer(items)  # (B, K, H) or (I, H)
        if per_user:
            hidden = torch.relu(user_part.unsqueeze(1) + item_part)  # (B, K, H)
        else:
            hidden = torch.relu(user_part.unsqueeze(1) + item_part.unsqueeze(0))  # (B, I, H)
        logits = self.output(hidden).squeeze(-1)  # (B, K)
        if self.projection is not None:
            users = self.projection(features)
            logits = logits + (
                torch.einsum("bd,bkd->bk", users, items) if per_user else users @ items.T
            )
        return logits

    def forward(self, features: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        chunks = [
            self._logits(features[start : start + self.config.chunk], items, per_user=False)
            for start in range(0, features.shape[0], self.config.chunk)
        ]
        return torch.cat(chunks) if chunks else features.new_zeros(0, items.shape[0])

    def pair_logits(self, features: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._logits(features, items, per_user=True)

    def loss(
        self,
        features: torch.Tensor,
        targets: torch.Tensor,
        items: torch.Tensor,
        bias: torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        negatives = sample_negatives(targets, items.shape[0] - 1, self.config.negatives, generator)
        candidates = torch.cat([targets.unsqueeze(1), negatives], dim=1)  # (N, 1 + K)
        logits = self.pair_logits(features, items[candidates])
        if bias is not None:
            logits = logits + bias[candidates]
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(logits.float(), labels)

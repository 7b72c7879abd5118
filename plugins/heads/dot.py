"""The ``dot`` head: features projected onto the item embeddings, ranking over all items.

When the features already live in the item space (the global extractor of the same
encoder) the projection is the identity, so the transferred model starts exactly as the
pretrained one scored (zero-shot). Trained with the full-softmax next-item cross-entropy.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from recgraft.head import Head, HeadConfig


class DotHeadConfig(HeadConfig):
    project: bool | None = Field(
        None, description="learn a linear map from features to the item space; None = only when the sizes differ"
    )


class DotHead(Head):
    """``project(features) @ items.T``."""

    Config = DotHeadConfig
    config: DotHeadConfig

    def __init__(self, config: DotHeadConfig, feature_dim: int, item_dim: int) -> None:
        super().__init__(config, feature_dim, item_dim)
        project = config.project if config.project is not None else feature_dim != item_dim
        self.projection: nn.Module = nn.Identity()
        if project:
            linear = nn.Linear(feature_dim, item_dim)
            if feature_dim == item_dim:  # start from the identity, so zero-shot scores are kept
                nn.init.eye_(linear.weight)
                nn.init.zeros_(linear.bias)
            self.projection = linear

    def user_vectors(self, features: torch.Tensor) -> torch.Tensor:
        return self.projection(features)

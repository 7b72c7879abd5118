"""``vectors``: dense item vectors computed elsewhere (sentence or image embeddings), a column of
shape ``(items + 1, d)`` (see :func:`recgraft.data.with_item_vectors`), mapped linearly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import nn

from recgraft.errors import ConfigError
from recgraft.item_features import ItemFeature, ItemFeatureConfig


class VectorsFeatureConfig(ItemFeatureConfig):
    normalise: bool = Field(True, description="scale each vector to unit length first")


class VectorsFeature(ItemFeature):
    """``vector @ W`` (an item without a vector has zeros)."""

    Config = VectorsFeatureConfig
    input_dtype = torch.float32
    column_ndim = 2

    def __init__(self, config: VectorsFeatureConfig, dim: int, state: Mapping[str, Any]) -> None:
        super().__init__(config, dim, state)
        self.width = int(self.state.get("dim", 1))
        self.projection = nn.Linear(self.width, dim, bias=False)

    @classmethod
    def fit(cls, config: VectorsFeatureConfig, values: np.ndarray) -> dict[str, Any]:
        if values.ndim != 2:
            raise ConfigError("item feature of kind 'vectors': the column must hold one vector per item "
                              "(load it with --item-vectors)")
        return {"dim": int(values.shape[1])}

    @classmethod
    def accepts(cls, values: np.ndarray) -> bool:
        return values.ndim == 2 and values.dtype.kind in "fiu"

    def input_shape(self) -> tuple[int, ...]:
        return (self.width,)

    def inputs(self, values: np.ndarray) -> torch.Tensor:
        if values.ndim != 2 or values.shape[1] != self.width:
            raise ConfigError(f"item feature of kind 'vectors': vectors of {self.width} dimensions are needed, "
                              f"got shape {list(values.shape)}")
        x = np.nan_to_num(np.asarray(values, dtype=np.float32))
        if self.config.normalise:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return torch.from_numpy(np.ascontiguousarray(x))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.projection(inputs)

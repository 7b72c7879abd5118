"""``number``: a numeric column (a year, a price; numbers as text too) as an embedding of its
quantile bucket (edges fitted on the source), or as a linear map of its standardised value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import nn

from recgraft.item_features import ItemFeature, ItemFeatureConfig


class NumberFeatureConfig(ItemFeatureConfig):
    encoding: Literal["buckets", "normalise"] = Field(
        "buckets", description="buckets: an embedding per quantile bucket; normalise: a linear map of the z-score")
    buckets: int = Field(16, ge=2, le=10_000, description="quantile buckets (edges from the source's values)")


def numbers(values: np.ndarray) -> np.ndarray:
    """The column as float64, NaN where a value is missing or not a number."""
    return pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(dtype=np.float64)


class NumberFeature(ItemFeature):
    """One embedding per bucket (0: missing), or ``[z, missing] @ W``."""

    Config = NumberFeatureConfig

    def __init__(self, config: NumberFeatureConfig, dim: int, state: Mapping[str, Any]) -> None:
        super().__init__(config, dim, state)
        self.input_dtype = torch.long if config.encoding == "buckets" else torch.float32
        if config.encoding == "buckets":
            self.edges: np.ndarray = np.asarray(self.state.get("edges", []), dtype=np.float64)
            self.embedding: nn.Module = nn.Embedding(len(self.edges) + 2, dim, padding_idx=0)
            nn.init.normal_(self.embedding.weight, std=dim**-0.5)
            with torch.no_grad():
                self.embedding.weight[0] = 0
        else:
            self.embedding = nn.Linear(2, dim, bias=False)

    @classmethod
    def fit(cls, config: NumberFeatureConfig, values: np.ndarray) -> dict[str, Any]:
        known = numbers(values[1:])
        known = known[np.isfinite(known)]
        if config.encoding == "normalise":
            return {"mean": float(known.mean()) if len(known) else 0.0,
                    "std": float(known.std()) if len(known) > 1 and known.std() > 0 else 1.0}
        if not len(known):
            return {"edges": []}
        edges = np.unique(np.quantile(known, np.linspace(0, 1, config.buckets + 1)[1:-1]))
        return {"edges": [float(e) for e in edges]}

    @classmethod
    def accepts(cls, values: np.ndarray) -> bool:
        if values.ndim != 1:
            return False
        parsed = numbers(values[1:])
        present = np.asarray([v is not None and str(v) not in ("", "nan") for v in values[1:].tolist()], dtype=bool)
        # numbers, a stray typo aside (ML-100K's years include 'unkonwn'): those count as missing
        return bool(present.any()) and float(np.isfinite(parsed[present]).mean()) >= 0.95

    def input_shape(self) -> tuple[int, ...]:
        return () if self.config.encoding == "buckets" else (2,)

    def inputs(self, values: np.ndarray) -> torch.Tensor:
        x = numbers(values)
        missing = ~np.isfinite(x)
        if self.config.encoding == "buckets":
            bucket = np.searchsorted(self.edges, np.where(missing, 0, x), side="right") + 1
            return torch.from_numpy(np.where(missing, 0, bucket).astype(np.int64))
        z = np.where(missing, 0.0, (x - self.state["mean"]) / self.state["std"])
        return torch.from_numpy(np.stack([z, missing.astype(np.float64)], 1).astype(np.float32))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.embedding(inputs)

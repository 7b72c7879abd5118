"""``tokens``: a categorical column or a token sequence (``"Action Comedy"``) as the mean of its
tokens' embeddings, over a vocabulary fitted on the source (unknown tokens are left out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import nn

from recgraft.item_features import ItemFeature, ItemFeatureConfig, is_missing


class TokensFeatureConfig(ItemFeatureConfig):
    separator: str | None = Field(None, description="what splits a value into tokens (None: whitespace; '' keeps it whole)")
    max_tokens: int = Field(16, ge=1, le=1024, description="tokens kept per item (the first ones)")
    min_count: int = Field(1, ge=1, description="tokens rarer than this in the source are left out")
    max_vocabulary: int = Field(10_000, ge=1, le=1_000_000, description="the most frequent tokens kept")


def split_tokens(value: Any, separator: str | None) -> list[str]:
    """The tokens of one value (missing values have none)."""
    if is_missing(value):
        return []
    text = str(value)
    if separator == "":
        return [text] if text else []
    return [token for token in text.split(separator) if token]


class TokensFeature(ItemFeature):
    """Mean of the item's token embeddings (an item without known tokens gets zeros)."""

    Config = TokensFeatureConfig

    def __init__(self, config: TokensFeatureConfig, dim: int, state: Mapping[str, Any]) -> None:
        super().__init__(config, dim, state)
        self.vocabulary: list[str] = list(self.state.get("vocabulary", []))
        self.index = {token: i + 1 for i, token in enumerate(self.vocabulary)}
        self.embedding = nn.EmbeddingBag(len(self.vocabulary) + 1, dim, mode="mean", padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)

    @classmethod
    def fit(cls, config: TokensFeatureConfig, values: np.ndarray) -> dict[str, Any]:
        counts = Counter(t for v in values[1:].tolist() for t in split_tokens(v, config.separator)[: config.max_tokens])
        ranked = sorted((t for t, c in counts.items() if c >= config.min_count), key=lambda t: (-counts[t], t))
        return {"vocabulary": ranked[: config.max_vocabulary]}

    @classmethod
    def accepts(cls, values: np.ndarray) -> bool:
        if values.ndim != 1 or values.dtype != object:
            return False
        present = [split_tokens(v, None) for v in values[1:].tolist()]
        present = [tokens for tokens in present if tokens]
        # categories repeat (18 genres over 3,706 movies); the words of titles mostly do not
        return bool(present) and len({t for tokens in present for t in tokens}) <= len(present) / 2

    def input_shape(self) -> tuple[int, ...]:
        return (self.config.max_tokens,)

    def inputs(self, values: np.ndarray) -> torch.Tensor:
        out = np.zeros((len(values), self.config.max_tokens), dtype=np.int64)
        for row, value in enumerate(values.tolist()):
            ids = [self.index[t] for t in split_tokens(value, self.config.separator) if t in self.index]
            ids = ids[: self.config.max_tokens]
            out[row, : len(ids)] = ids
        return torch.from_numpy(out)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.embedding(inputs)

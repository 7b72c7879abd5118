"""``text``: a text column (a title) as the mean embedding of its hashed words and character
n-grams (fastText-style, nothing downloaded); the hash is stable across runs and machines."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import nn

from recgraft.item_features import ItemFeature, ItemFeatureConfig, is_missing

WORD = re.compile(r"\w+", re.UNICODE)


class TextFeatureConfig(ItemFeatureConfig):
    buckets: int = Field(8192, ge=1, le=2**24, description="hash buckets, shared by words and n-grams")
    words: bool = Field(True, description="hash whole words")
    ngrams: list[int] = Field([3], description="character n-gram sizes, over each word padded with '<' and '>'")
    max_grams: int = Field(48, ge=1, le=4096, description="hashed grams kept per item (words first)")
    lowercase: bool = Field(True, description="lowercase before hashing")


def grams(text: str, config: TextFeatureConfig) -> list[str]:
    """Words (``w:``) then character n-grams (``c:``) of ``text``."""
    words = WORD.findall(text.lower() if config.lowercase else text)
    out = [f"w:{w}" for w in words] if config.words else []
    for n in config.ngrams:
        for w in words:
            padded = f"<{w}>"
            out += [f"c:{padded[i:i + n]}" for i in range(max(len(padded) - n + 1, 1))]
    return out


class TextFeature(ItemFeature):
    """Mean of the embeddings of the hashed grams (an empty text gets zeros)."""

    Config = TextFeatureConfig

    def __init__(self, config: TextFeatureConfig, dim: int, state: Mapping[str, Any]) -> None:
        super().__init__(config, dim, state)
        self.embedding = nn.EmbeddingBag(config.buckets + 1, dim, mode="mean", padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)

    @classmethod
    def accepts(cls, values: np.ndarray) -> bool:
        return values.ndim == 1 and values.dtype == object

    def input_shape(self) -> tuple[int, ...]:
        return (self.config.max_grams,)

    def inputs(self, values: np.ndarray) -> torch.Tensor:
        out = np.zeros((len(values), self.config.max_grams), dtype=np.int64)
        for row, value in enumerate(values.tolist()):
            if is_missing(value):
                continue
            found = grams(str(value), self.config)[: self.config.max_grams]
            out[row, : len(found)] = [1 + zlib.crc32(g.encode("utf-8")) % self.config.buckets for g in found]
        return torch.from_numpy(out)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.embedding(inputs)

"""The ``global`` extractor: the encoder's final user vector (the seed's "output layer" features)."""

from __future__ import annotations

import torch

from recgraft.encoder import Encoder
from recgraft.extractor import FeatureExtractor, FeatureExtractorConfig


class GlobalExtractorConfig(FeatureExtractorConfig):
    """No settings: the user vector is the user vector."""


class GlobalExtractor(FeatureExtractor):
    """``encoder(history)``, ``(B, D)``; at every position, ``encoder.sequence_output``."""

    Config = GlobalExtractorConfig

    def output_dim(self, encoder: Encoder) -> int:
        return encoder.output_dim

    def extract(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor:
        return encoder(history)

    def extract_sequence(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor | None:
        return encoder.sequence_output(history)  # (B, L, D) or None

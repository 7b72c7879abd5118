"""The feature-extractor contract: what a transfer reads out of a pretrained encoder.

The seed article distinguishes *global* features (the encoder's output layer, the user
vector) from *local* ones (hidden layers). An extractor turns an encoder and a batch of
right-aligned histories ``(B, L)`` into feature vectors ``(B, F)``. Sequential encoders
can also give features at every position ``(B, L, F)`` (each position sees only the items
up to it), which lets a transfer train on every next-item target of a window at once.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from recgraft.components import Component, ComponentConfig
from recgraft.encoder import Encoder


class FeatureExtractorConfig(ComponentConfig):
    """Settings every extractor has (none yet); extractors subclass it."""


class FeatureExtractor(Component):
    """Base class of feature extractors (a plugin subclasses it and registers it by name).

    Extractors hold no weights: they read an encoder, so the same extractor serves a
    frozen pretrained encoder and one being fine-tuned.
    """

    Config: ClassVar[type[FeatureExtractorConfig]] = FeatureExtractorConfig

    def __init__(self, config: FeatureExtractorConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def output_dim(self, encoder: Encoder) -> int:
        """The feature size ``F`` this extractor produces from ``encoder``."""
        raise NotImplementedError

    def extract(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor:
        """Features ``(B, F)`` of right-aligned histories ``(B, L)``."""
        raise NotImplementedError

    def extract_sequence(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor | None:
        """Causal features at every position ``(B, L, F)``, or None when the encoder has none.

        Position ``t`` must depend only on ``history[:, : t + 1]``; its last position equals
        :meth:`extract`.
        """
        return None

    def describe(self) -> dict[str, object]:
        """The config as plain JSON (stored in checkpoints)."""
        return self.config.model_dump()

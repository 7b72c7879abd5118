"""The ``concat`` extractor: several extractors' features joined side by side."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from recgraft.encoder import Encoder
from recgraft.extractor import FeatureExtractor, FeatureExtractorConfig


class ExtractorSpec(BaseModel):
    """One part of the concatenation: a registered extractor name and its config."""

    model_config = ConfigDict(extra="forbid")

    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class ConcatExtractorConfig(FeatureExtractorConfig):
    extractors: list[ExtractorSpec] = Field(
        default_factory=lambda: [ExtractorSpec(name="global"), ExtractorSpec(name="local")],
        min_length=1,
        description="the extractors to join, in order",
    )


class ConcatExtractor(FeatureExtractor):
    """Features of each listed extractor, concatenated: ``(B, sum F_i)``."""

    Config = ConcatExtractorConfig
    config: ConcatExtractorConfig

    def __init__(self, config: ConcatExtractorConfig | None = None) -> None:
        super().__init__(config)
        from recgraft.plugin_manager import catalog

        self.parts: list[FeatureExtractor] = [
            catalog().build("extractor", spec.name, spec.config) for spec in self.config.extractors
        ]

    def output_dim(self, encoder: Encoder) -> int:
        return sum(part.output_dim(encoder) for part in self.parts)

    def extract(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor:
        return torch.cat([part.extract(encoder, history) for part in self.parts], dim=-1)

    def extract_sequence(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor | None:
        outputs = [part.extract_sequence(encoder, history) for part in self.parts]
        if any(o is None for o in outputs):
            return None
        return torch.cat(outputs, dim=-1)

"""The ``local`` extractor: named hidden layers of the encoder, pooled and joined.

The seed article's "local features": intermediate representations, which transfer more
generic patterns than the output layer. Sequence layers ``(B, L, D)`` are pooled by the
``last`` position or the ``mean`` over non-padding positions; vector layers ``(B, D)`` are
taken as they are.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from recgraft.encoder import Encoder
from recgraft.errors import ConfigError
from recgraft.extractor import FeatureExtractor, FeatureExtractorConfig


class LocalExtractorConfig(FeatureExtractorConfig):
    layers: list[str] = Field(
        default_factory=list,
        description="hidden layer names (see the encoder's layer_names()); empty = every layer but 'embedding' and 'output'",
    )
    pooling: Literal["last", "mean"] = Field("last", description="how (B, L, D) layers become (B, D)")


def _cumulative_mean(values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Mean over the non-padding positions up to each position: ``(B, L, D)``."""
    weights = present.unsqueeze(-1).to(values.dtype)
    return (values * weights).cumsum(1) / weights.cumsum(1).clamp(min=1.0)


class LocalExtractor(FeatureExtractor):
    """The chosen hidden layers, each pooled to ``(B, D_l)``, concatenated to ``(B, sum D_l)``."""

    Config = LocalExtractorConfig
    config: LocalExtractorConfig

    def layers(self, encoder: Encoder) -> list[str]:
        """The layer names used with ``encoder`` (validated against what it exposes)."""
        known = encoder.layer_names()
        chosen = list(self.config.layers) or [n for n in known if n not in ("embedding", "output")]
        chosen = chosen or known[-1:]
        unknown = [n for n in chosen if n not in known]
        if unknown:
            raise ConfigError(
                f"extractor 'local': layers: {', '.join(map(repr, unknown))} not in the encoder's "
                f"layers ({', '.join(known)})"
            )
        return chosen

    def output_dim(self, encoder: Encoder) -> int:
        device = encoder.item_vectors().device
        with torch.no_grad():
            outputs = encoder.hidden_layers(torch.ones(1, 1, dtype=torch.long, device=device))
        return sum(int(outputs[name].shape[-1]) for name in self.layers(encoder))

    def _pool(self, value: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        if value.dim() == 2:
            return value
        if self.config.pooling == "last":
            return value[:, -1]
        present = history[:, -value.shape[1] :] > 0
        return _cumulative_mean(value, present)[:, -1]

    def extract(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor:
        outputs = encoder.hidden_layers(history)
        return torch.cat([self._pool(outputs[name], history) for name in self.layers(encoder)], dim=-1)

    def extract_sequence(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor | None:
        outputs = encoder.hidden_layers(history)
        chosen = [outputs[name] for name in self.layers(encoder)]
        if any(value.dim() != 3 for value in chosen):
            return None
        if self.config.pooling == "mean":
            chosen = [_cumulative_mean(v, history[:, -v.shape[1] :] > 0) for v in chosen]
        return torch.cat(chosen, dim=-1)  # (B, L, F)

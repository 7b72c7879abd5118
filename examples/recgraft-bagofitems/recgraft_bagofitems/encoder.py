"""A bag-of-items encoder: a user is the (recency-weighted) mean of its items' embeddings.

Order-free apart from the recency weights, so it is a fast, strong baseline on catalogues
where what a user likes matters more than the order they met it in.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from recgraft.encoder import Encoder, EncoderConfig


class BagOfItemsEncoderConfig(EncoderConfig):
    decay: float = Field(0.98, gt=0, le=1, description="weight of an item per step back in time")
    hidden_dim: int = Field(128, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)


class BagOfItemsEncoder(Encoder):
    """Recency-weighted mean of item embeddings, then a small MLP."""

    Config = BagOfItemsEncoderConfig

    def __init__(self, config: BagOfItemsEncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        dim = config.embedding_dim
        self.item_embedding = nn.Embedding(num_items + 1, dim, padding_idx=0)
        self.mlp = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(dim, config.hidden_dim), nn.GELU(),
            nn.Linear(config.hidden_dim, dim),
        )
        nn.init.normal_(self.item_embedding.weight, std=dim**-0.5)

    def _layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        history = history[:, -self.config.max_length :]
        length = history.shape[1]
        # Weight decay**(steps from position t) for every prefix ending at t: (L, L) lower-triangular.
        steps = torch.arange(length, device=history.device)
        ages = (steps.unsqueeze(1) - steps.unsqueeze(0)).clamp(min=0).float()
        weights = self.config.decay**ages * torch.ones(length, length, device=history.device).tril()
        present = (history > 0).float()  # (B, L)
        weights = weights.unsqueeze(0) * present.unsqueeze(1)  # (B, L, L)
        summed = weights @ self.item_embedding(history)  # (B, L, D)
        mean = summed / weights.sum(-1, keepdim=True).clamp(min=1e-6)
        return {"mean": mean, "output": mean + self.mlp(mean)}

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._layers(history)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history)["output"]


    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight

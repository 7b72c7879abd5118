"""GRU4Rec-style recurrent encoder (LSTM or GRU cells).

Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016;
trained here like SASRec, to predict the next item at every position with a full softmax.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from recgraft.components import MAX_DIM, MAX_LAYERS, MAX_LENGTH
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.item_features import item_table


class LSTMEncoderConfig(EncoderConfig):
    cell: Literal["lstm", "gru"] = Field("gru", description="the recurrent cell of every layer")
    num_layers: int = Field(1, ge=1, le=MAX_LAYERS, description="stacked recurrent layers")
    hidden_dim: int = Field(128, ge=1, le=MAX_DIM, description="state size of each recurrent layer (projected to embedding_dim)")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout rate on the item embeddings and after each recurrent layer")
    max_length: int = Field(200, ge=1, le=MAX_LENGTH, description="histories are truncated to their most recent items")


class LSTMEncoder(Encoder):
    """Stacked recurrent layers over the history; the state after the last item is the user."""

    Config = LSTMEncoderConfig

    def __init__(self, config: LSTMEncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        recurrent = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.item_embedding = item_table(config, num_items, config.embedding_dim)
        self.input_dropout = nn.Dropout(config.dropout)
        sizes = [config.embedding_dim] + [config.hidden_dim] * config.num_layers
        self.recurrent = nn.ModuleList(
            recurrent(sizes[i], sizes[i + 1], batch_first=True) for i in range(config.num_layers)
        )
        self.output = nn.Linear(config.hidden_dim, config.embedding_dim)
        if isinstance(self.item_embedding, nn.Embedding):
            nn.init.normal_(self.item_embedding.weight, std=config.embedding_dim**-0.5)

    def _layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        history = history[:, -self.config.max_length :]
        x = self.input_dropout(self.item_embedding(history))
        layers = {"embedding": x}
        for i, layer in enumerate(self.recurrent, start=1):
            x, _ = layer(x)  # (B, L, H); left padding only delays the state, it never follows an item
            layers[f"rnn{i}"] = x
            x = self.input_dropout(x)
        layers["output"] = self.output(x)
        return layers

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._layers(history)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history)["output"]


    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight

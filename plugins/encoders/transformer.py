"""SASRec-style causal self-attention encoder.

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018. Item plus learned
position embeddings, causal multi-head self-attention blocks (pre-norm), item embeddings
tied with output scoring; the user vector is the output at the last position.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from recgraft.encoder import Encoder, EncoderConfig


class TransformerEncoderConfig(EncoderConfig):
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(1, ge=1)
    dropout: float = Field(0.2, ge=0, lt=1)
    max_length: int = Field(200, ge=1)


class SelfAttentionBlock(nn.Module):
    """Pre-norm causal multi-head self-attention followed by a position-wise feed-forward layer."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)
        self.feedforward_norm = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).split(D, dim=-1)
        q, k, v = (t.view(B, L, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, L, D/H)
        attended = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        x = x + self.residual_dropout(self.projection(attended.transpose(1, 2).reshape(B, L, D)))
        return x + self.residual_dropout(self.feedforward(self.feedforward_norm(x)))


class TransformerEncoder(Encoder):
    """Causal self-attention over the most recent ``max_length`` items."""

    Config = TransformerEncoderConfig

    def __init__(self, config: TransformerEncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        dim = config.embedding_dim
        if dim % config.num_heads:
            from recgraft.errors import ConfigError

            raise ConfigError(
                f"encoder 'transformer': embedding_dim ({dim}) must be divisible by num_heads ({config.num_heads})"
            )
        self.item_embedding = nn.Embedding(num_items + 1, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(config.max_length, dim)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(dim, config.num_heads, config.dropout) for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(dim)
        nn.init.normal_(self.item_embedding.weight, std=dim**-0.5)
        nn.init.normal_(self.position_embedding.weight, std=dim**-0.5)

    def _layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        history = history[:, -self.config.max_length :]
        B, L = history.shape
        present = history > 0  # (B, L)
        positions = torch.arange(L, device=history.device)
        x = self.item_embedding(history) * math.sqrt(self.config.embedding_dim)
        x = x + self.position_embedding(positions + self.config.max_length - L)
        # Padding positions are zeroed after every block (as in SASRec), so the causal
        # attention of a real item over the padding before it sees only zero inputs.
        x = self.embedding_dropout(x) * present.unsqueeze(-1)
        layers = {"embedding": x}
        for i, block in enumerate(self.blocks, start=1):
            x = block(x) * present.unsqueeze(-1)
            layers[f"block{i}"] = x
        layers["output"] = self.final_norm(x)
        return layers

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._layers(history)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history)["output"]  # (B, L, D)


    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight

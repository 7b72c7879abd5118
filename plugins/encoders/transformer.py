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

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """``allowed`` (B, 1, L, L) says which keys each query attends to; with ``last_only``
        only the last position is computed (all a user vector needs)."""
        B, L, D = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).split(D, dim=-1)
        if last_only:
            x, q, allowed = x[:, -1:], q[:, -1:], allowed[:, :, -1:]
        q, k, v = (t.view(B, -1, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, L, D/H)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
        )
        x = x + self.residual_dropout(self.projection(attended.transpose(1, 2).reshape(B, -1, D)))
        return x + self.residual_dropout(self.feedforward(self.feedforward_norm(x)))


class TransformerEncoder(Encoder):
    """Causal self-attention over the most recent ``max_length`` items."""

    Config = TransformerEncoderConfig
    padding_invariant = True

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

    def _layers(self, history: torch.Tensor, last_only: bool = False) -> dict[str, torch.Tensor]:
        history = history[:, -self.config.max_length :]
        B, L = history.shape
        present = history > 0  # (B, L)
        positions = torch.arange(L, device=history.device)
        # Positions count from the most recent item, and a query attends to earlier real
        # items (and itself, so a padding row is never empty): the output for a user does
        # not depend on how much left padding the batch adds.
        x = self.item_embedding(history) * math.sqrt(self.config.embedding_dim)
        x = x + self.position_embedding(positions + self.config.max_length - L)
        causal = torch.ones(L, L, dtype=torch.bool, device=history.device).tril()
        diagonal = torch.eye(L, dtype=torch.bool, device=history.device)
        allowed = causal & (present[:, None, None, :] | diagonal)  # (B, 1, L, L)
        x = self.embedding_dropout(x) * present.unsqueeze(-1)
        layers = {"embedding": x}
        for i, block in enumerate(self.blocks, start=1):
            last = last_only and i == len(self.blocks)
            x = block(x, allowed, last_only=last) * (present[:, -1:] if last else present).unsqueeze(-1)
            layers[f"block{i}"] = x
        layers["output"] = self.final_norm(x)
        return layers

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history, last_only=True)["output"][:, -1]

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._layers(history)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history)["output"]  # (B, L, D)


    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight

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

    def forward(self, x: torch.Tensor, last: torch.Tensor | None = None) -> torch.Tensor:
        """Causal attention over right-padded rows (padding comes after every real item, so no
        real query sees it). With ``last`` (B,), the index of each row's last real item, only
        that position is computed: all a user vector needs."""
        B, L, D = x.shape
        normed = self.attention_norm(x)
        mask = None
        if last is None:
            q, k, v = self.qkv(normed).split(D, dim=-1)
        else:  # keys and values everywhere, the query only where it is needed
            k, v = F.linear(normed, self.qkv.weight[D:], self.qkv.bias[D:]).split(D, dim=-1)
            where = last.view(B, 1, 1).expand(B, 1, D)
            x = x.gather(1, where)
            q = F.linear(normed.gather(1, where), self.qkv.weight[:D], self.qkv.bias[:D])
            mask = (torch.arange(L, device=x.device) <= last.view(B, 1)).view(B, 1, 1, L)
        q, k, v = (t.reshape(B, -1, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, L, D/H)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=mask is None, dropout_p=self.dropout if self.training else 0.0
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
        # Inputs are left-padded; the blocks see each row shifted left (padding at the end),
        # so plain causal attention never reaches a padded key and needs no (B, L, L) mask.
        # Positions count from the most recent item. The output for a user does not depend
        # on how much padding the batch adds.
        lengths = (history > 0).sum(1)
        columns = torch.arange(L, device=history.device)
        to_right = (columns + (L - lengths).unsqueeze(1)) % L  # row-wise rotation by the pad count
        present = columns < lengths.unsqueeze(1)
        items = history.gather(1, to_right)
        positions = (columns + self.config.max_length - lengths.unsqueeze(1)).clamp(max=self.config.max_length - 1)
        x = self.item_embedding(items) * math.sqrt(self.config.embedding_dim) + self.position_embedding(positions)
        x = self.embedding_dropout(x) * present.unsqueeze(-1)
        states = [x]
        for i, block in enumerate(self.blocks, start=1):
            if last_only and i == len(self.blocks):
                last = (lengths - 1).clamp(min=0)
                return {"output": self.final_norm(block(x, last) * (lengths > 0).view(B, 1, 1))}
            x = block(x) * present.unsqueeze(-1)
            states.append(x)
        to_left = (columns - (L - lengths).unsqueeze(1)) % L
        index = to_left.unsqueeze(-1).expand(B, L, x.shape[-1])
        names = ["embedding"] + [f"block{i}" for i in range(1, len(self.blocks) + 1)]
        layers = {name: state.gather(1, index) for name, state in zip(names, states, strict=True)}
        layers["output"] = self.final_norm(layers[names[-1]])
        return layers

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history, last_only=True)["output"][:, -1]

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._layers(history)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history)["output"]  # (B, L, D)


    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight

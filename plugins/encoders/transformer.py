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

from recgraft.components import MAX_LAYERS, MAX_LENGTH
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.item_features import item_table


class TransformerEncoderConfig(EncoderConfig):
    num_layers: int = Field(2, ge=1, le=MAX_LAYERS, description="causal self-attention blocks")
    num_heads: int = Field(1, ge=1, le=MAX_LAYERS, description="attention heads per block (embedding_dim must be divisible by it)")
    dropout: float = Field(
        0.2, ge=0, lt=1, description="dropout rate on the embeddings, attention weights, feed-forward and residual outputs"
    )
    max_length: int = Field(
        50, ge=1, le=MAX_LENGTH,
        description="histories are truncated to their most recent items; one position embedding each (longer "
        "histories train as consecutive windows of this length)",
    )


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
        queries, mask = normed, None
        if last is not None:
            where = last.view(B, 1, 1).expand(B, 1, D)
            x, queries = x.gather(1, where), normed.gather(1, where)
            mask = (torch.arange(L, device=x.device) <= last.view(B, 1)).view(B, 1, 1, L)
        if self.heads == 1 and not self.training:
            attended = self._folded_attention(queries, normed, mask)
        else:
            attended = self._attention(queries, normed, mask)
        x = x + self.residual_dropout(attended)
        return x + self.residual_dropout(self.feedforward(self.feedforward_norm(x)))

    def _attention(self, queries: torch.Tensor, normed: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Multi-head attention of ``queries`` (B, Q, D) over ``normed`` (B, L, D), projected back to D."""
        B, D = normed.shape[0], normed.shape[-1]
        q = F.linear(queries, self.qkv.weight[:D], self.qkv.bias[:D])
        k, v = F.linear(normed, self.qkv.weight[D:], self.qkv.bias[D:]).split(D, dim=-1)
        q, k, v = (t.reshape(B, -1, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, L, D/H)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=mask is None, dropout_p=self.dropout if self.training else 0.0
        )
        return self.projection(attended.transpose(1, 2).reshape(B, -1, D))

    def _folded_attention(self, queries: torch.Tensor, normed: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The single-head attention of :meth:`_attention` without its key and value projections.

        q_i . k_j = (W_k^T q_i) . n_j + q_i . b_k, and the last term is the same for every key,
        so softmax ignores it; attention weights sum to one, so the value and output
        projections fold into one matrix applied after attending. The keys and values are
        the normed inputs themselves: half the dense work of a block at every position.
        Exact up to rounding; inference only (dropout on the weights would break the sum).
        """
        D = normed.shape[-1]
        w_q, w_k, w_v = self.qkv.weight.split(D)
        b_q, _, b_v = self.qkv.bias.split(D)
        w_o, b_o = self.projection.weight, self.projection.bias
        q = F.linear(queries, w_k.T @ w_q, w_k.T @ b_q)
        keys = normed.unsqueeze(1)  # (B, 1, L, D): one head
        attended = F.scaled_dot_product_attention(q.unsqueeze(1), keys, keys, attn_mask=mask, is_causal=mask is None)
        return F.linear(attended.squeeze(1), w_o @ w_v, w_o @ b_v + b_o)


class TransformerEncoder(Encoder):
    """Causal self-attention over the most recent ``max_length`` items."""

    Config = TransformerEncoderConfig
    padding_invariant = True
    #: Chosen on ML-1M's validation split among three settings within an 8-minute CPU budget
    #: (2e-3 constant, 2e-3 cosine with warm-up, 4e-3 constant; docs/benchmarks.md).
    pretraining_defaults = {"learning_rate": 4e-3}

    def __init__(self, config: TransformerEncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        dim = config.embedding_dim
        if dim % config.num_heads:
            from recgraft.errors import ConfigError

            raise ConfigError(
                f"encoder 'transformer': embedding_dim ({dim}) must be divisible by num_heads ({config.num_heads})"
            )
        self.item_embedding = item_table(config, num_items, dim)  # ids, plus item features when configured
        self.position_embedding = nn.Embedding(config.max_length, dim)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(dim, config.num_heads, config.dropout) for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(dim)
        if isinstance(self.item_embedding, nn.Embedding):
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
        items = history.gather(1, to_right)
        positions = (columns + self.config.max_length - lengths.unsqueeze(1)).clamp(max=self.config.max_length - 1)
        x = self.item_embedding(items) * math.sqrt(self.config.embedding_dim) + self.position_embedding(positions)
        x = self.embedding_dropout(x)
        if last_only:  # no real position ever reads the padding, so it need not be zeroed
            for block in self.blocks[:-1]:
                x = block(x)
            last = (lengths - 1).clamp(min=0)
            return {"output": self.final_norm(self.blocks[-1](x, last) * (lengths > 0).view(B, 1, 1))}
        present = columns < lengths.unsqueeze(1)
        x = x * present.unsqueeze(-1)
        states = [x]
        for block in self.blocks:
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

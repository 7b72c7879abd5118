"""The head contract: features (and candidate items) in, item scores out.

A head sits on top of extracted user features ``(B, F)`` and scores items against the
target model's item table ``(I + 1, D)`` (row 0 is padding). It ranks the whole catalogue
(``forward``), scores given user-item pairs (``pair_logits``, for the binary task), and
defines its own training loss, so a softmax head and a binary head train in one loop.
Per-item biases (popularity) are added by the caller, outside the head.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from recgraft.components import Component, ComponentConfig
from recgraft.losses import softmax_cross_entropy


class HeadConfig(ComponentConfig):
    """Settings every head has (none yet); heads subclass it."""


class Head(nn.Module, Component):
    """Base class of heads (a plugin subclasses it and registers it by name).

    Subclasses implement :meth:`user_vectors` (dot-product heads) or override
    :meth:`forward` and :meth:`pair_logits` (anything else).
    """

    Config: ClassVar[type[HeadConfig]] = HeadConfig
    #: True for heads that predict "will this user interact with this item" (BCE-trained);
    #: their evaluation adds accuracy, precision, recall, F1 and AUC.
    binary: ClassVar[bool] = False

    def __init__(self, config: HeadConfig, feature_dim: int, item_dim: int) -> None:
        super().__init__()
        self.config = config
        self.feature_dim = feature_dim
        self.item_dim = item_dim

    def user_vectors(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(B, F)`` mapped into the item space ``(B, D)`` (dot-product heads)."""
        raise NotImplementedError

    def forward(self, features: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, I + 1)`` of every item for features ``(B, F)``, items ``(I + 1, D)``."""
        return self.user_vectors(features) @ items.T

    def pair_logits(self, features: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)`` of ``K`` candidate items ``(B, K, D)`` per user."""
        return torch.einsum("bd,bkd->bk", self.user_vectors(features), items)

    def loss(
        self,
        features: torch.Tensor,
        targets: torch.Tensor,
        items: torch.Tensor,
        bias: torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Training loss for features ``(N, F)`` whose next items are ``targets`` ``(N,)``.

        The default is the full-softmax cross-entropy over the catalogue (the reference
        protocol's next-item task), with ``bias`` ``(I + 1,)`` folded in as an extra column.
        """
        users = self.user_vectors(features)
        if bias is not None:
            users = torch.cat([users, users.new_ones(users.shape[0], 1)], dim=1)
            items = torch.cat([items, bias.unsqueeze(1).to(items.dtype)], dim=1)
        return softmax_cross_entropy(users.float(), items.float(), targets)


def sample_negatives(
    targets: torch.Tensor, num_items: int, count: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``count`` uniformly drawn items per target ``(N, count)``, never the pad; a draw equal
    to the target is moved to the next item id (so no negative is the positive)."""
    drawn = torch.randint(1, num_items + 1, (targets.shape[0], count), generator=generator)
    drawn = drawn.to(targets.device)
    clash = drawn == targets.unsqueeze(1)
    return torch.where(clash, drawn % num_items + 1, drawn)

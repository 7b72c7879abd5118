"""The encoder contract: a torch module mapping a user's history to a user vector.

Encoders never use user-id embeddings: a user is its history (item ids, right-aligned,
0 = padding), so an encoder transfers to users it has never seen. Each encoder owns the
item embedding table it scores against, names its hidden layers (for local features) and
defines its own self-supervised pretraining objective.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from recgraft.components import MAX_DIM, MAX_LENGTH, Component
from recgraft.engine.config import TrainConfig
from recgraft.engine.scoring import Scorer, scorer
from recgraft.errors import ConfigError
from recgraft.item_features import Columns, ItemFeatureSettings, item_id_rows, item_tables
from recgraft.objective import NextItemObjective, PretrainingObjective


class EncoderConfig(ItemFeatureSettings):
    """Settings every encoder has (the item-feature ones included: see :mod:`recgraft.item_features`)."""

    embedding_dim: int = Field(64, ge=1, le=MAX_DIM, description="size of item embeddings and user vectors")
    max_length: int = Field(50, ge=1, le=MAX_LENGTH, description="histories are truncated to their most recent items")


class Encoder(nn.Module, Component):
    """Base class of every encoder (a plugin subclasses it and registers it by name)."""

    Config: ClassVar[type[EncoderConfig]] = EncoderConfig
    #: True when the user vector ignores left padding, so evaluation may cut a batch of
    #: short histories to its longest one instead of computing ``max_length`` positions.
    padding_invariant: ClassVar[bool] = False
    #: Training settings this encoder pretrains best with (e.g. ``{"learning_rate": 4e-3}``):
    #: :func:`recgraft.pretrain.pretrain` uses them for every field its caller leaves unset.
    pretraining_defaults: ClassVar[Mapping[str, object]] = {}

    def __init__(self, config: EncoderConfig, num_items: int) -> None:
        super().__init__()
        self.config = config
        self.num_items = num_items  # catalogue size, not counting the padding row 0

    # --- what every encoder implements -------------------------------------------------
    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """User vectors ``(B, D)`` for right-aligned histories ``(B, L)``.

        By default the sequence output at the last position (the most recent item).
        """
        outputs = self.sequence_output(history)
        if outputs is None:
            raise NotImplementedError(f"{type(self).__name__} must implement forward or sequence_output")
        return outputs[:, -1]

    def item_vectors(self) -> torch.Tensor:
        """The item embedding table scored against, ``(num_items + 1, D)``; row 0 is padding."""
        raise NotImplementedError

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each named hidden layer's output: ``(B, L, D_l)`` for sequence layers or ``(B, D_l)``."""
        raise NotImplementedError

    def item_parameters(self) -> list[nn.Parameter]:
        """Parameters whose first dimension is indexed by item id (resized on alignment).

        By default the id rows of the encoder's feature-aware item tables, if it has any, else
        the item table itself, when ``item_vectors`` returns a parameter.
        """
        if item_tables(self):
            return item_id_rows(self)
        table = self.item_vectors()
        if not isinstance(table, nn.Parameter):
            raise NotImplementedError(f"{type(self).__name__} must list its item parameters")
        return [table]

    # --- shared behaviour ----------------------------------------------------------------
    @property
    def output_dim(self) -> int:
        return int(self.item_vectors().shape[1])

    def score_items(self, users: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, num_items + 1)`` of every item for user vectors ``(B, D)``."""
        return users @ self.item_vectors().T

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor | None:
        """User vectors at every position ``(B, L, D)`` when the encoder is sequential, else None.

        Sequential encoders are trained to predict the next item at every position.
        """
        return None

    def scorer(self, device: torch.device) -> Scorer:
        """Histories to scores over every item, as evaluation and recommendation rank them
        (:func:`recgraft.engine.scoring.scorer`)."""
        return scorer(self, self.score_items, device)

    def layer_names(self) -> list[str]:
        probe = torch.zeros(1, 1, dtype=torch.long, device=self.item_vectors().device)
        return list(self.hidden_layers(probe))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def pretraining_objective(self, train: TrainConfig) -> PretrainingObjective:
        """The self-supervised objective used to pretrain this encoder (next-item by default)."""
        return NextItemObjective(self, train)

    @torch.no_grad()
    def resize_items(self, num_items: int, source_rows: torch.Tensor) -> None:
        """Grow or remap the item tables to a new catalogue.

        ``source_rows[i]`` is the old row that new item ``i`` inherits, or -1 for a new item.
        Row 0 (padding) maps to row 0. A new item starts as the average inherited item, so it
        scores like a typical item: a random row (a random score bias above all) could
        outrank every pretrained item and bury the zero-shot ranking.
        """
        # Nothing aligned: an encoder with item features starts its new items' id rows (and
        # biases) at zero, so that a new item is its features (as a dropped id is in training);
        # one without features has nothing better than a fresh initialisation at the table's scale.
        empty: Literal["random", "zeros"] = "zeros" if self.uses_item_features() else "random"
        for param in self.item_parameters():
            remap_item_rows(param, num_items, source_rows, empty)
        for table in item_tables(self):
            table.resize(num_items, source_rows)
        self.num_items = num_items

    def set_item_features(self, columns: Columns, where: str = "the domain",
                          feature_map: Mapping[str, str] | None = None) -> None:
        """Give the items of the current catalogue their feature inputs from ``columns`` (one value
        per item id; ``feature_map``: feature column -> this domain's column). A no-op for an
        encoder without item features; a ConfigError for one whose config names features its
        item tables do not use (an encoder plugin that builds plain embeddings)."""
        tables = item_tables(self)
        if self.config.item_features and not tables:
            raise ConfigError(f"encoder {type(self).__name__} does not build its item table with "
                              "recgraft.item_features.item_table, so it cannot use item_features")
        for table in tables:
            table.set_catalogue(columns, where, feature_map)

    def uses_item_features(self) -> bool:
        """Whether the item vectors come (partly) from item features."""
        return any(t.features for t in item_tables(self))


@torch.no_grad()
def remap_item_rows(param: nn.Parameter, num_items: int, source_rows: torch.Tensor,
                    empty: Literal["random", "zeros"] = "random") -> None:
    """Give ``param`` (first dimension indexed by item id) ``num_items + 1`` rows: row ``i`` is old
    row ``source_rows[i]``, a new item (-1) the average inherited row (see ``Encoder.resize_items``);
    with nothing inherited, new rows are drawn at the table's scale (``empty="random"``) or zero."""
    known = source_rows >= 0
    inherited = source_rows[source_rows > 0]
    if len(inherited):
        fresh = param.data[inherited].mean(0).expand(num_items + 1, *param.shape[1:]).clone()
    elif empty == "zeros":
        fresh = torch.zeros((num_items + 1, *param.shape[1:]), dtype=param.dtype, device=param.device)
    else:  # nothing aligned: a fresh initialisation at the table's scale
        fresh = torch.empty((num_items + 1, *param.shape[1:]), dtype=param.dtype, device=param.device)
        nn.init.normal_(fresh, std=float(param.detach().std().clamp(min=1e-3)))
    fresh[known] = param.data[source_rows[known]]
    param.data = fresh

"""Item representations from item features: the ``item_feature`` plugin contract and the item table.

An encoder's item table maps item ids to vectors. With item features, an item's vector
is its id embedding plus one embedding per feature column (genres, a year, title words, a
vector computed elsewhere), or the feature embeddings alone. A target item the source
never saw then gets a vector from its features instead of the average item: this is what
lets a checkpoint transfer to a catalogue it shares no item with.

A feature is a plugin of kind ``item_feature`` (:class:`ItemFeature`): it is fitted once on
the source's column (a vocabulary, bucket edges; recorded in the encoder config), turns a
column into fixed-shape per-item inputs (kept as buffers of the :class:`ItemTable`, so they
round-trip through checkpoints), and embeds those inputs. Recomputing the inputs from
another domain's column (:meth:`ItemTable.set_catalogue`) is how a model reaches new items.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, cast

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from recgraft.components import Component, ComponentConfig
from recgraft.errors import ConfigError
from recgraft.plugin_manager import catalog

Columns = Mapping[str, np.ndarray]  # item-feature columns, one value (or vector) per item id, pad first


def is_missing(value: Any) -> bool:
    """Whether a column's value is missing (None or NaN): such an item has nothing for the feature."""
    return value is None or (isinstance(value, float) and bool(np.isnan(value)))


class ItemFeatureConfig(ComponentConfig):
    """Settings every item feature has; features subclass it."""


class ItemFeature(nn.Module, Component):
    """Base class of item features (a plugin subclasses it and registers it by name).

    ``ItemFeature(config, dim, state)`` embeds per-item inputs into ``dim`` dimensions;
    ``state`` is what :meth:`fit` learned from the source's column (JSON), so that the
    checkpoint's config alone rebuilds the feature with the same shapes and encoding.
    """

    Config: ClassVar[type[ItemFeatureConfig]] = ItemFeatureConfig
    #: dtype of the per-item inputs :meth:`inputs` returns
    input_dtype: ClassVar[torch.dtype] = torch.long
    #: dimensions of the column the feature reads: 1 (a value per item) or 2 (a vector per item)
    column_ndim: ClassVar[int] = 1

    def __init__(self, config: ItemFeatureConfig, dim: int, state: Mapping[str, Any]) -> None:
        super().__init__()
        self.config = config
        self.dim = dim
        self.state = dict(state)

    @classmethod
    def fit(cls, config: ItemFeatureConfig, values: np.ndarray) -> dict[str, Any]:
        """What the encoding learns from the source's column (JSON-serialisable); none by default."""
        return {}

    @classmethod
    def accepts(cls, values: np.ndarray) -> bool:
        """Whether a column of these values is of this kind (used to infer a column's kind)."""
        return False

    def input_shape(self) -> tuple[int, ...]:
        """The shape of one item's inputs (fixed by the config and the fitted state)."""
        raise NotImplementedError

    def inputs(self, values: np.ndarray) -> torch.Tensor:
        """Per-item inputs ``(N, *input_shape())`` of ``input_dtype`` for a column of ``N`` values."""
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Item vectors ``(N, dim)`` from per-item inputs ``(N, *input_shape())``."""
        raise NotImplementedError


class ItemFeatureSpec(BaseModel):
    """One item-feature column of an encoder: which column, which kind, its settings and fitted state.

    Given as ``"COLUMN"`` or ``"COLUMN:KIND"`` (the kind is inferred from the values when
    omitted); :func:`fit_item_features` fills in the kind and the state.
    """

    model_config = ConfigDict(extra="forbid")

    column: str = Field(description="the item-feature column (as the source domain names it)")
    kind: str | None = Field(None, description="the item_feature plugin encoding it (inferred when omitted)")
    config: dict[str, Any] = Field(default_factory=dict, description="the item_feature plugin's settings")
    state: dict[str, Any] | None = Field(None, description="what the encoding learned from the source (set by fitting)")

    @classmethod
    def parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            column, _, kind = value.partition(":")
            if not column:
                raise ValueError(f"item feature {value!r}: give COLUMN or COLUMN:KIND")
            return {"column": column, "kind": kind or None}
        return value

    @property
    def fitted(self) -> bool:
        return self.kind is not None and self.state is not None


def parse_specs(values: Any) -> list[ItemFeatureSpec]:
    """Item-feature specs from strings (``"genre"``, ``"movie_title:text"``) or mappings."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [part for part in values.split(",") if part]
    return [ItemFeatureSpec.model_validate(ItemFeatureSpec.parse(v)) for v in values]


class ItemFeatureSettings(ComponentConfig):
    """The config fields of item representations from features (``EncoderConfig`` has them)."""

    item_features: list[ItemFeatureSpec] = Field(
        default_factory=list,
        description="item-feature columns whose embeddings join the item id embedding "
        "('genre', 'movie_title:text'; kinds: tokens, number, text, vectors)",
    )
    item_ids: bool = Field(True, description="keep an id embedding per item beside its features (false: features alone)")
    item_id_dropout: float = Field(
        0.0, ge=0, lt=1, description="share of items whose id embedding is dropped in each training step, so the "
        "model learns to use the features (what a new item has)")

    @field_validator("item_features", mode="before")
    @classmethod
    def _specs(cls, value: Any) -> Any:
        return [s.model_dump() for s in parse_specs(value)]


def infer_kind(values: np.ndarray) -> str:
    """The built-in kind a column looks like: vectors (2-D numbers), number, tokens (few distinct
    words: genres) or text (many: titles); the first registered plugin that accepts it otherwise."""
    values = np.asarray(values)
    for kind in ("vectors", "number", "tokens", "text"):
        if kind in catalog().names("item_feature") and catalog().get("item_feature", kind).accepts(values):
            return kind
    for kind in catalog().names("item_feature"):
        if catalog().get("item_feature", kind).accepts(values):
            return kind
    raise ConfigError("cannot tell which item_feature kind a column is; name it as COLUMN:KIND")


def feature_column(columns: Columns, column: str, where: str, feature_map: Mapping[str, str] | None = None) -> np.ndarray:
    """The values for the feature ``column`` in ``columns``, through ``feature_map`` (feature column
    -> this domain's column); a ConfigError naming the missing column and what there is."""
    name = (feature_map or {}).get(column, column)
    if name not in columns:
        known = ", ".join(sorted(columns)) or "none"
        renamed = f" (mapped from {column!r})" if name != column else ""
        hint = f"; map one with --feature-map {column}=COLUMN" if feature_map is not None else ""
        raise ConfigError(f"item feature {column!r}: {where} has no item column {name!r}{renamed} (it has: {known}){hint}")
    return np.asarray(columns[name])


def check_column(column: str, feature: type[ItemFeature] | ItemFeature, values: np.ndarray, rows: int | None = None) -> None:
    """A ConfigError naming ``column`` unless it has the shape ``feature`` reads (and ``rows`` rows)."""
    if values.ndim != feature.column_ndim:
        what = "a value per item" if feature.column_ndim == 1 else "a vector per item"
        raise ConfigError(f"item feature {column!r}: its kind reads {what}, the column has shape {list(values.shape)}")
    if rows is not None and len(values) != rows:
        raise ConfigError(f"item feature {column!r}: {len(values)} values for {rows} item ids")


def fit_item_features(config: BaseModel, columns: Columns, where: str = "the domain") -> Any:
    """``config`` (an encoder config) with each item feature's kind and state fitted on ``columns``;
    features already fitted are kept as they are (a transfer never refits the source's encoding)."""
    specs: list[ItemFeatureSpec] = list(getattr(config, "item_features", []))
    if not specs or all(spec.fitted for spec in specs):
        return config
    fitted = []
    for spec in specs:
        if spec.fitted:
            fitted.append(spec)
            continue
        values = feature_column(columns, spec.column, where)
        kind = spec.kind or infer_kind(values)
        feature_config = catalog().config("item_feature", kind, spec.config)
        check_column(spec.column, catalog().get("item_feature", kind), values)
        state = catalog().get("item_feature", kind).fit(feature_config, values)
        fitted.append(ItemFeatureSpec(column=spec.column, kind=kind, config=feature_config.model_dump(), state=state))
    return config.model_copy(update={"item_features": fitted})


class ItemTable(nn.Module):
    """An item table from ids and features: ``weight`` is ``(num_items + 1, dim)``, row 0 zero.

    A drop-in for ``nn.Embedding(num_items + 1, dim, padding_idx=0)`` (``table(ids)``,
    ``table.weight``) that an encoder uses when its config names item features.
    """

    def __init__(self, num_items: int, dim: int, specs: Sequence[ItemFeatureSpec], ids: bool = True,
                 id_dropout: float = 0.0, std: float | None = None) -> None:
        super().__init__()
        unfitted = [spec.column for spec in specs if not spec.fitted]
        if unfitted:
            raise ConfigError(f"item features {', '.join(map(repr, unfitted))} are not fitted: pretrain with them "
                              "(or call recgraft.item_features.fit_item_features on the encoder config)")
        if not ids and not specs:
            raise ConfigError("item_ids is false but no item_features are given: items would have no vector")
        self.num_items, self.dim, self.id_dropout = num_items, dim, id_dropout
        #: the table computed once, while :func:`frozen_item_tables` holds (a graph export sees a constant)
        self.frozen: torch.Tensor | None = None
        self.columns = [spec.column for spec in specs]
        self.ids = nn.Embedding(num_items + 1, dim, padding_idx=0) if ids else None
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=std if std is not None else dim**-0.5)
        built: list[ItemFeature] = [catalog().build("item_feature", spec.kind, spec.config, dim, spec.state)
                                    for spec in specs]
        self.features = nn.ModuleList(built)
        for i, feature in enumerate(built):
            self.register_buffer(f"inputs{i}", torch.zeros(num_items + 1, *feature.input_shape(), dtype=feature.input_dtype))

    @classmethod
    def from_config(cls, config: Any, num_items: int, dim: int, std: float | None = None) -> ItemTable:
        """The table of an encoder config's item-feature settings (``item_features``, ``item_ids``,
        ``item_id_dropout``)."""
        return cls(num_items, dim, config.item_features, config.item_ids, config.item_id_dropout, std)

    def feature_modules(self) -> list[ItemFeature]:
        """The item features, in the order of :attr:`columns`."""
        return [cast(ItemFeature, feature) for feature in self.features]

    def feature_inputs(self) -> list[torch.Tensor]:
        """Each feature's per-item inputs, ``(num_items + 1, ...)``."""
        return [getattr(self, f"inputs{i}") for i in range(len(self.features))]

    @property
    def weight(self) -> torch.Tensor:
        """The whole table: id rows (when kept) plus every feature's vectors; the pad row is zero."""
        if self.frozen is not None:
            return self.frozen
        parts = [feature(inputs) for feature, inputs in zip(self.features, self.feature_inputs(), strict=True)]
        if self.ids is not None:
            rows = self.ids.weight
            if self.training and self.id_dropout > 0:
                keep = torch.rand(rows.shape[0], 1, device=rows.device) >= self.id_dropout
                rows = rows * keep
            parts.append(rows)
        table = torch.stack(parts).sum(0) if len(parts) > 1 else parts[0]
        return torch.cat([torch.zeros_like(table[:1]), table[1:]])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weight[ids]

    @torch.no_grad()
    def set_catalogue(self, columns: Columns, where: str = "the domain",
                      feature_map: Mapping[str, str] | None = None) -> None:
        """Recompute every feature's per-item inputs from ``columns`` (one value per item id of the
        current catalogue): how items get their feature vectors on a new domain."""
        for i, (column, feature) in enumerate(zip(self.columns, self.feature_modules(), strict=True)):
            values = feature_column(columns, column, where, feature_map)
            check_column(column, feature, values, self.num_items + 1)
            buffer = getattr(self, f"inputs{i}")
            buffer.copy_(feature.inputs(values).to(buffer.device, buffer.dtype))

    @torch.no_grad()
    def resize(self, num_items: int, source_rows: torch.Tensor) -> None:
        """Remap to a new catalogue (``source_rows`` as in ``Encoder.resize_items``): id rows as the
        encoder's other item tables; feature inputs kept for mapped items, empty for new ones
        until :meth:`set_catalogue` fills them from the new domain's columns."""
        known = source_rows >= 0
        for i in range(len(self.features)):
            old = getattr(self, f"inputs{i}")
            new = torch.zeros((num_items + 1, *old.shape[1:]), dtype=old.dtype, device=old.device)
            new[known] = old[source_rows[known]]
            setattr(self, f"inputs{i}", new)
        self.num_items = num_items


def needs_item_table(config: Any) -> bool:
    """Whether an encoder with ``config`` builds :class:`ItemTable` s: it names item features, or
    drops the id embedding (else its tables keep the layout of encoders that never had features)."""
    return bool(getattr(config, "item_features", [])) or not getattr(config, "item_ids", True)


def item_table(config: Any, num_items: int, dim: int, std: float | None = None) -> nn.Embedding | ItemTable:
    """The item table an encoder with ``config`` uses: a plain embedding without item features
    (the checkpoint layout of encoders that never had them), an :class:`ItemTable` with them
    (its id rows drawn from ``N(0, std)``, by default ``dim ** -0.5``)."""
    if not needs_item_table(config):
        return nn.Embedding(num_items + 1, dim, padding_idx=0)  # initialised by the encoder, as before
    return ItemTable.from_config(config, num_items, dim, std)


def item_tables(module: nn.Module) -> list[ItemTable]:
    """The feature-aware item tables inside ``module``."""
    return [m for m in module.modules() if isinstance(m, ItemTable)]


def table_rows(table: nn.Parameter | ItemTable) -> torch.Tensor:
    """The ``(num_items + 1, dim)`` rows of an item table kept as a bare parameter or an :class:`ItemTable`."""
    return table.weight if isinstance(table, ItemTable) else table


def item_id_rows(module: nn.Module, *tables: torch.Tensor | nn.Module) -> list[nn.Parameter]:
    """The parameters indexed by item id (what ``Encoder.item_parameters`` lists): the id rows of
    ``module``'s feature-aware item tables, then those of ``tables`` that are parameters (an
    encoder's plain tables; computed ones and :class:`ItemTable` s are left out)."""
    ids = [t.ids.weight for t in item_tables(module) if t.ids is not None]
    return [p for p in (*ids, *tables) if isinstance(p, nn.Parameter)]


@torch.no_grad()
def copy_catalogue(source: nn.Module, target: nn.Module) -> None:
    """Copy the per-item feature inputs of ``source``'s item tables into ``target``'s (the same
    architecture on the same catalogue): a fresh encoder's items get the features they have."""
    for mine, theirs in zip(item_tables(source), item_tables(target), strict=True):
        for a, b in zip(mine.feature_inputs(), theirs.feature_inputs(), strict=True):
            b.copy_(a)


@contextlib.contextmanager
def frozen_item_tables(module: nn.Module) -> Iterator[None]:
    """Within the block, every feature-aware item table inside ``module`` is a constant computed
    once (no gradient): what an exported scoring graph holds, whatever ops the features use."""
    kept = {id(table): table.frozen for table in item_tables(module)}
    freeze_item_tables(module)
    try:
        yield
    finally:
        for table in item_tables(module):
            table.frozen = kept.get(id(table))


def freeze_item_tables(module: nn.Module, frozen: bool = True) -> None:
    """Compute every feature-aware item table inside ``module`` once and keep it (``frozen``), or
    drop the kept tables: a loaded model that only scores need not rebuild them per request."""
    with torch.no_grad():
        for table in item_tables(module):
            table.frozen = None
            if frozen:
                table.frozen = table.weight.detach().clone()

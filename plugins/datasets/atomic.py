"""RecBole atomic files: ``NAME.inter`` with ``NAME.item`` and ``NAME.user`` beside it.

Tab-separated, header ``field:type`` (types ``token``, ``token_seq``, ``float``,
``float_seq``). Item and user features come from the ``.item``/``.user`` tables, joined
by id; ``float`` fields become numbers, the others text. See
https://recbole.io/docs/user_guide/data/atomic_files.html
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.data.loader import DatasetLoader, DatasetLoaderConfig, Encoding
from recgraft.data.tables import Table, read_table, where
from recgraft.errors import DataError

TYPES = ("token", "token_seq", "float", "float_seq")


class AtomicLoaderConfig(DatasetLoaderConfig):
    """Field names (RecBole's defaults) and the files' encoding."""

    user_field: str = Field("user_id", description="the user field (its name before ':type') in .inter and .user")
    item_field: str = Field("item_id", description="the item field (its name before ':type') in .inter and .item")
    rating_field: str | None = Field(
        "rating", description="the rating field, read when the .inter file has it; none: no ratings"
    )
    time_field: str | None = Field(
        "timestamp", description="the time field, read when the .inter file has it; else histories are in file order"
    )
    load_item_features: bool = Field(True, description="read item columns (titles, ...) from the .item file beside it")
    load_user_features: bool = Field(True, description="read user columns from the .user file beside it")
    encoding: Encoding = Field("utf-8", description="text encoding of the files")


def _fields(table: Table) -> dict[str, tuple[str, str]]:
    """field name -> (column as in the header, type)."""
    out: dict[str, tuple[str, str]] = {}
    for column in table.columns:
        field, sep, kind = column.rpartition(":")
        if not sep:
            field, kind = column, "token"
        if kind not in TYPES:
            raise DataError(
                f"{where(table.path, 1)}: field {column!r} has unknown type {kind!r} "
                f"(expected field:type with type one of {', '.join(TYPES)})"
            )
        out[field] = (column, kind)
    return out


def _column(table: Table, fields: dict[str, tuple[str, str]], field: str) -> tuple[str, str]:
    if field not in fields:
        listing = ", ".join(fields)
        raise DataError(f"{where(table.path, 1)}: no field {field!r} (fields: {listing})")
    return fields[field]


def _feature_table(path: Path, key: str, encoding: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    table = read_table(path, sep="\t", header=True, encoding=encoding)
    fields = _fields(table)
    key_column, _ = _column(table, fields, key)
    keys = table.require(key_column, key)
    features: dict[str, np.ndarray] = {}
    for field, (column, kind) in fields.items():
        if field == key:
            continue
        if kind == "float":
            features[field] = table.number(column, field, allow_empty=True)
        else:
            features[field] = table.columns[column]
    return keys, features


class AtomicLoader(DatasetLoader):
    """RecBole atomic files: a folder holding ``NAME.inter``, or the ``.inter`` file itself."""

    Config = AtomicLoaderConfig

    @classmethod
    def detect(cls, path: Path) -> bool:
        if path.is_dir():
            return any(path.glob("*.inter"))
        return path.suffix == ".inter"

    @staticmethod
    def inter_file(path: Path) -> Path:
        """The ``.inter`` file of a folder (``FOLDER.inter`` when there are several)."""
        if not path.is_dir():
            return path
        found = sorted(path.glob("*.inter"))
        if len(found) == 1:
            return found[0]
        preferred = path / f"{path.name}.inter"
        if preferred in found:
            return preferred
        if not found:
            raise DataError(f"{path}: no .inter file in this folder")
        raise DataError(
            f"{path}: several .inter files ({', '.join(p.name for p in found)}); pass one of them"
        )

    def load(self, path: Path, name: str | None = None) -> Domain:
        config: AtomicLoaderConfig = self.config
        inter = self.inter_file(path)
        table = read_table(inter, sep="\t", header=True, encoding=config.encoding)
        fields = _fields(table)
        users = table.require(_column(table, fields, config.user_field)[0], config.user_field)
        items = table.require(_column(table, fields, config.item_field)[0], config.item_field)
        ratings = timestamps = None
        if config.rating_field and config.rating_field in fields:
            ratings = table.number(fields[config.rating_field][0], config.rating_field).astype(
                np.float32
            )
        if config.time_field and config.time_field in fields:
            timestamps = table.number(fields[config.time_field][0], config.time_field)
        item_file, user_file = inter.with_suffix(".item"), inter.with_suffix(".user")
        item_table = user_table = None
        if config.load_item_features and item_file.is_file():
            item_table = _feature_table(item_file, config.item_field, config.encoding)
        if config.load_user_features and user_file.is_file():
            user_table = _feature_table(user_file, config.user_field, config.encoding)
        return domain_from_tokens(
            name or inter.stem,
            users,
            items,
            timestamps,
            ratings,
            item_table=item_table,
            user_table=user_table,
            source=str(inter),
        )

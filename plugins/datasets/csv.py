"""CSV/TSV files with a header row: one interaction per line.

Column names are configurable; by default the loader looks for common names
(``user_id``/``user``/``userId``, ``item_id``/``item``/``itemId``/``movieId``,
``timestamp``/``time``, ``rating``). Timestamps may be numbers or ISO dates.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.data.loader import DatasetLoader, DatasetLoaderConfig, Encoding
from recgraft.data.tables import Table, parse_times, read_table, sniff_delimiter, where
from recgraft.errors import DataError

USER_NAMES = ("user_id", "user", "userId", "userid", "uid")
ITEM_NAMES = ("item_id", "item", "itemId", "itemid", "movieId", "movie_id", "iid")
TIME_NAMES = ("timestamp", "time", "ts", "datetime", "date")
RATING_NAMES = ("rating", "score")
EXTENSIONS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


class CSVLoaderConfig(DatasetLoaderConfig):
    """Column names (None: look for the usual names) and file options."""

    user: str | None = Field(None, description="the user column; none: the first of user_id, user, userId, userid, uid")
    item: str | None = Field(
        None, description="the item column; none: the first of item_id, item, itemId, itemid, movieId, movie_id, iid"
    )
    timestamp: str | None = Field(
        None, description="the time column; none: timestamp, time, ts, datetime or date if present, else file order"
    )
    rating: str | None = Field(None, description="the rating column; none: rating or score if present, else no ratings")
    item_features: list[str] = Field(
        [], description="columns to keep as item features (first value per item), a list or 'a,b'"
    )
    user_features: list[str] = Field(
        [], description="columns to keep as user features (first value per user), a list or 'a,b'"
    )
    delimiter: str | None = Field(None, description="one character; none: from the extension (.csv, .tsv, .tab), else sniffed")

    @field_validator("item_features", "user_features", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``"genre,year"`` (as the command line's ``--option item_features=genre,year`` gives it) is a list."""
        if isinstance(value, str):
            return [column.strip() for column in value.split(",") if column.strip()]
        return value
    encoding: Encoding = Field("utf-8", description="text encoding of the file")


def _pick(
    table: Table, given: str | None, usual: tuple[str, ...], what: str, required: bool
) -> str | None:
    if given is not None:
        if given not in table.columns:
            raise DataError(
                f"{where(table.path, 1)}: no {what} column {given!r} (columns: {', '.join(table.names)})"
            )
        return given
    for candidate in usual:
        if candidate in table.columns:
            return candidate
    if required:
        raise DataError(
            f"{where(table.path, 1)}: no {what} column (looked for {', '.join(usual)}; columns: "
            f"{', '.join(table.names)}); name it with the loader option {what}=COLUMN (--option {what}=COLUMN)"
        )
    return None


class CSVLoader(DatasetLoader):
    """CSV/TSV with a header: one interaction per row."""

    Config = CSVLoaderConfig

    @classmethod
    def detect(cls, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in EXTENSIONS

    def load(self, path: Path, name: str | None = None) -> Domain:
        config: CSVLoaderConfig = self.config
        if path.is_dir():
            raise DataError(f"{path}: the csv format reads a file, not a folder")
        sep = (
            config.delimiter
            or EXTENSIONS.get(path.suffix.lower())
            or sniff_delimiter(path, config.encoding)
        )
        if len(sep) != 1:
            raise DataError(f"{path}: delimiter must be one character, got {sep!r}")
        table = read_table(
            path, sep=sep, header=True, encoding=config.encoding, quoting=csv.QUOTE_MINIMAL
        )
        user = _pick(table, config.user, USER_NAMES, "user", True)
        item = _pick(table, config.item, ITEM_NAMES, "item", True)
        time = _pick(table, config.timestamp, TIME_NAMES, "timestamp", False)
        rating = _pick(table, config.rating, RATING_NAMES, "rating", False)
        assert user is not None and item is not None
        users = table.require(user, "user")
        items = table.require(item, "item")
        timestamps = parse_times(table, time) if time else None
        ratings = table.number(rating, "rating").astype(np.float32) if rating else None

        def features(
            columns: list[str], keys: np.ndarray
        ) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
            if not columns:
                return None
            for column in columns:
                if column not in table.columns:
                    raise DataError(
                        f"{where(path, 1)}: no feature column {column!r} (columns: {', '.join(table.names)})"
                    )
            return keys, {c: table.columns[c] for c in columns}

        return domain_from_tokens(
            name or path.stem,
            users,
            items,
            timestamps,
            ratings,
            item_table=features(config.item_features, items),
            user_table=features(config.user_features, users),
            source=str(path),
        )

"""MovieLens' own files: ``u.data`` (ML-100K) and ``ratings.dat`` (ML-1M, ML-10M).

``u.data`` is tab-separated without a header (user, item, rating, timestamp);
``ratings.dat`` separates the same fields with ``::``. Titles and genres come from
``u.item`` / ``movies.dat`` beside it, user attributes from ``u.user`` / ``users.dat``
(latin-1), when present. https://grouplens.org/datasets/movielens/
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import Field

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.data.loader import DatasetLoader, DatasetLoaderConfig, Encoding
from recgraft.data.tables import ENCODING_HINT, Table, check_file, read_table, where
from recgraft.errors import DataError

RATING_FILES = ("u.data", "ratings.dat")
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
_FIELDS = re.compile(r"expected 7 fields, found \d+")

Features = tuple[np.ndarray, dict[str, np.ndarray]]


class MovieLensLoaderConfig(DatasetLoaderConfig):
    """Whether to read the item and user files beside the ratings, and their encoding."""

    load_item_features: bool = Field(True, description="read titles and genres from u.item / movies.dat beside the ratings")
    load_user_features: bool = Field(True, description="read user attributes from u.user / users.dat beside the ratings")
    encoding: Encoding = Field("latin-1", description="text encoding of u.item / movies.dat / u.user / users.dat")


def _split_lines(path: Path, sep: str, fields: int, encoding: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of a small file, checking the field count (at least ``fields``)."""
    check_file(path)
    rows = []
    with open(path, encoding=encoding, newline="") as f:
        for number, text in enumerate(f, start=1):
            text = text.rstrip("\r\n")
            if not text:
                continue
            parts = text.split(sep)
            if len(parts) < fields:
                raise DataError(
                    f"{where(path, number)}: expected {fields} fields separated by {sep!r}, found {len(parts)}"
                )
            rows.append((number, parts))
    return rows


def _columns(
    rows: list[tuple[int, list[str]]], names: dict[str, Callable[[list[str]], str]]
) -> Features:
    keys = np.array([parts[0] for _, parts in rows], dtype=object)
    return keys, {
        name: np.array([get(parts) for _, parts in rows], dtype=object)
        for name, get in names.items()
    }


def _numbers(
    path: Path, rows: list[tuple[int, list[str]]], values: np.ndarray, label: str
) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value != "":
            try:
                out[i] = float(value)
            except ValueError:
                raise DataError(
                    f"{where(path, rows[i][0])}: {label} {value!r} is not a number"
                ) from None
    return out


def _items_100k(path: Path, encoding: str) -> Features:
    rows = _split_lines(path, "|", 5, encoding)

    def genres(parts: list[str]) -> str:
        return " ".join(g for g, flag in zip(GENRES_100K, parts[5:], strict=False) if flag == "1")

    return _columns(
        rows, {"title": lambda p: p[1], "release_date": lambda p: p[2], "genres": genres}
    )


def _items_1m(path: Path, encoding: str) -> Features:
    rows = _split_lines(path, "::", 3, encoding)
    return _columns(rows, {"title": lambda p: p[1], "genres": lambda p: " ".join(p[2].split("|"))})


def _users(path: Path, encoding: str, one_m: bool) -> Features:
    rows = _split_lines(path, "::" if one_m else "|", 5, encoding)
    order = (
        ("gender", "age", "occupation", "zip_code")
        if one_m
        else ("age", "gender", "occupation", "zip_code")
    )
    position = {name: i + 1 for i, name in enumerate(order)}
    keys = np.array([parts[0] for _, parts in rows], dtype=object)
    columns = {
        name: np.array([parts[i] for _, parts in rows], dtype=object)
        for name, i in position.items()
    }
    features: dict[str, np.ndarray] = {
        "age": _numbers(path, rows, columns["age"], "age"),
        "gender": columns["gender"],
        "occupation": columns["occupation"],
        "zip_code": columns["zip_code"],
    }
    return keys, features


class MovieLensLoader(DatasetLoader):
    """MovieLens ``u.data`` or ``ratings.dat`` (the file, or the folder holding it)."""

    Config = MovieLensLoaderConfig

    @classmethod
    def detect(cls, path: Path) -> bool:
        if path.is_dir():
            return any((path / f).is_file() for f in RATING_FILES)
        return path.name in RATING_FILES

    @staticmethod
    def ratings_file(path: Path) -> Path:
        if not path.is_dir():
            return path
        for candidate in RATING_FILES:
            if (path / candidate).is_file():
                return path / candidate
        raise DataError(f"{path}: no u.data or ratings.dat in this folder")

    @staticmethod
    def _read_ratings(path: Path, one_m: bool) -> Table:
        if not one_m:
            return read_table(
                path, sep="\t", header=False, names=["user", "item", "rating", "timestamp"]
            )
        table = read_table(
            path,
            sep=":",
            header=False,
            names=["user", "_1", "item", "_2", "rating", "_3", "timestamp"],
        )
        for gap in ("_1", "_2", "_3"):
            bad = np.flatnonzero(table.columns[gap] != "")
            if len(bad):
                raise DataError(
                    f"{where(path, int(table.lines[bad[0]]))}: fields must be separated by '::'"
                )
        return table

    def load(self, path: Path, name: str | None = None) -> Domain:
        config: MovieLensLoaderConfig = self.config
        ratings_path = self.ratings_file(path)
        one_m = ratings_path.suffix == ".dat"
        try:
            table = self._read_ratings(ratings_path, one_m)
            users = table.require("user")
            items = table.require("item")
            ratings = table.number("rating").astype(np.float32)
            timestamps = table.number("timestamp")
        except DataError as exc:
            if not one_m:
                raise
            # '::' is read as ':' (the C parser splits on one character): 7 fields, 3 of them empty.
            raise DataError(_FIELDS.sub("expected 4 fields separated by '::'", str(exc))) from None
        folder = ratings_path.parent
        item_file = folder / ("movies.dat" if one_m else "u.item")
        user_file = folder / ("users.dat" if one_m else "u.user")
        item_table = user_table = None
        try:
            if config.load_item_features and item_file.is_file():
                item_table = (_items_1m if one_m else _items_100k)(item_file, config.encoding)
            if config.load_user_features and user_file.is_file():
                user_table = _users(user_file, config.encoding, one_m)
        except UnicodeError as exc:
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise DataError(
                f"{item_file.parent}: cannot decode as {config.encoding}: {reason}; pass the "
                f"files' encoding ({ENCODING_HINT})"
            ) from None
        except LookupError as exc:
            raise DataError(f"{folder}: {exc}") from None
        return domain_from_tokens(
            name or (path.name if path.is_dir() else folder.name or ratings_path.stem),
            users,
            items,
            timestamps,
            ratings,
            item_table=item_table,
            user_table=user_table,
            source=str(ratings_path),
        )

"""Reading delimited text tables fast (pandas' C parser) with errors that name file and line.

Loaders read every column as text, then turn the columns they need into numbers here, so
a bad value is reported as ``file:LINE: rating 'abc' is not a number`` (lines 1-based, as
an editor shows them), never as a parser traceback.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recgraft.errors import DataError

_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
#: How a user passes a file's encoding, on the command line and to load_domain.
ENCODING_HINT = "--option encoding=NAME, e.g. latin-1; encoding=... in load_domain"


def where(path: Path, line: int | None = None) -> str:
    """``path:line`` as error messages start."""
    return f"{path}:{line}" if line else f"{path}"


@dataclass
class Table:
    """A text table: column name -> object array of str; ``lines[i]`` is row i's line number."""

    path: Path
    columns: dict[str, np.ndarray]
    lines: np.ndarray  # int64 (R,)
    sep: str
    quoting: int
    encoding: str

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def require(self, column: str, label: str | None = None) -> np.ndarray:
        """The column as text, every value non-empty; DataError naming the first empty line."""
        if column not in self.columns:
            listing = ", ".join(self.columns)
            raise DataError(f"{where(self.path, 1)}: no column {column!r} (columns: {listing})")
        values = self.columns[column]
        empty = np.flatnonzero(values == "")
        if len(empty):
            self._fail_row(int(empty[0]), f"{label or column} is empty")
        return values

    def number(
        self, column: str, label: str | None = None, *, allow_empty: bool = False
    ) -> np.ndarray:
        """The column as float64; DataError naming the first line whose value is not a number.

        With ``allow_empty``, empty values become nan instead of an error.
        """
        if allow_empty and column in self.columns:
            values = self.columns[column]
            empty = values == ""
            if empty.any():
                out = np.full(len(values), np.nan)
                rows = np.flatnonzero(~empty)
                out[rows] = self._parse(column, values[rows], rows, label)
                return out
        values = self.require(column, label)
        return self._parse(column, values, np.arange(len(values)), label)

    def _parse(
        self, column: str, values: np.ndarray, rows: np.ndarray, label: str | None
    ) -> np.ndarray:
        """Finite float64 numbers; nan and inf are refused like text (they would poison every
        sum downstream and make ``--json`` output that is not JSON)."""
        try:
            parsed = values.astype(np.float64)
        except (ValueError, TypeError, OverflowError):
            parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64
            )
        bad = np.flatnonzero(~np.isfinite(parsed))
        if len(bad):
            value = values[bad[0]]
            what = "a finite number" if _is_float(value) else "a number"
            self._fail_row(int(rows[bad[0]]), f"{label or column} {value!r} is not {what}")
        return parsed

    def _fail_row(self, row: int, message: str) -> None:
        line = int(self.lines[row])
        found = self._field_count(line)
        expected = len(self.columns)
        if found is not None and found != expected:
            message = f"expected {expected} fields, found {found}"
        raise DataError(f"{where(self.path, line)}: {message}")

    def _field_count(self, line: int) -> int | None:
        """Fields on one line (only on the error path, so reading up to it is fine)."""
        try:
            with open(self.path, encoding=self.encoding, newline="") as f:
                for number, text in enumerate(f, start=1):
                    if number == line:
                        text = text.rstrip("\r\n")
                        if self.quoting == csv.QUOTE_NONE:
                            return (
                                text.count(self.sep) + 1
                                if len(self.sep) == 1
                                else len(text.split(self.sep))
                            )
                        return len(next(csv.reader([text], delimiter=self.sep)))
        except (OSError, UnicodeError, csv.Error, StopIteration):
            return None
        return None


def _is_float(text: object) -> bool:
    """Whether Python reads ``text`` as a float (``nan`` and ``inf`` included)."""
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def check_file(path: Path) -> None:
    """DataError unless ``path`` is a readable, non-empty file."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")


def _decode_error(path: Path, encoding: str, exc: UnicodeError) -> DataError:
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as full:
        start = full.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        return DataError(
            f"{where(path, line)}: byte 0x{data[start]:02x} at column {column} is not valid {encoding}; "
            f"re-save the file as UTF-8 or pass its encoding ({ENCODING_HINT})"
        )
    reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
    return DataError(f"{path}: cannot decode as {encoding}: {reason}; pass its encoding ({ENCODING_HINT})")


def read_table(
    path: Path,
    *,
    sep: str,
    header: bool = True,
    names: Sequence[str] | None = None,
    encoding: str = "utf-8",
    quoting: int = csv.QUOTE_NONE,
) -> Table:
    """Read a delimited file, every column as text; blank lines are skipped.

    Args:
        path: the file.
        sep: one-character delimiter.
        header: the first line names the columns; otherwise ``names`` does.
        names: column names for a file without header.
        encoding: text encoding of the file.
        quoting: ``csv.QUOTE_NONE`` (quotes are data) or ``csv.QUOTE_MINIMAL``.
    """
    check_file(path)
    try:
        with warnings.catch_warnings():  # a row longer than a one-column header loses data silently
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = _read_csv(path, sep, header, names, encoding, quoting)
    except pd.errors.ParserWarning:
        raise _field_count_error(path, sep, encoding, quoting, None if header else len(names or [])) from None
    except UnicodeError as exc:  # UTF-16 without a BOM raises a bare UnicodeError
        raise _decode_error(path, encoding, exc) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except pd.errors.ParserError as exc:
        found = _FIELDS.search(str(exc))
        if found:
            expected, line, saw = found.groups()
            raise DataError(
                f"{where(path, int(line))}: expected {expected} fields, found {saw}"
            ) from None
        raise DataError(f"{path}: cannot parse: {str(exc).splitlines()[-1]}") from None
    except LookupError as exc:  # unknown encoding name
        raise DataError(f"{path}: {exc}") from None
    columns = {str(c): frame[c].to_numpy(dtype=object) for c in frame.columns}
    if header and len(columns) == 0:
        raise DataError(f"{path}: file is empty")
    lines = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    if columns:
        blank = np.ones(len(frame), dtype=bool)
        for values in columns.values():
            blank &= values == ""
        if blank.any():
            keep = ~blank
            columns = {k: v[keep] for k, v in columns.items()}
            lines = lines[keep]
    table = Table(path, columns, lines, sep, quoting, encoding)
    if len(table) == 0:
        raise DataError(f"{path}: no data rows")
    return table


def _read_csv(
    path: Path, sep: str, header: bool, names: Sequence[str] | None, encoding: str, quoting: int
) -> pd.DataFrame:
    return pd.read_csv(
        path,
        sep=sep,
        header=0 if header else None,
        names=None if header else list(names or []),
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        skip_blank_lines=False,
        quoting=quoting,
        engine="c",
        encoding=encoding,
        index_col=False,
    )


def _field_count_error(
    path: Path, sep: str, encoding: str, quoting: int, expected: int | None
) -> DataError:
    """The first line whose field count differs from the header's (or ``expected``)."""
    try:
        with open(path, encoding=encoding, newline="") as f:
            for number, text in enumerate(f, start=1):
                text = text.rstrip("\r\n")
                if not text:
                    continue
                if quoting == csv.QUOTE_NONE:
                    found = len(text.split(sep))
                else:
                    found = len(next(csv.reader([text], delimiter=sep), []))
                if expected is None:
                    expected = found
                elif found != expected:
                    return DataError(f"{where(path, number)}: expected {expected} fields, found {found}")
    except (OSError, UnicodeError, csv.Error):
        pass
    return DataError(f"{path}: rows do not have as many fields as the header")


def sniff_delimiter(path: Path, encoding: str = "utf-8") -> str:
    """The delimiter of a small text sample: tab, comma, semicolon or pipe."""
    check_file(path)
    try:
        with open(path, encoding=encoding, newline="") as f:
            sample = f.read(64 * 1024)
    except UnicodeError as exc:  # UTF-16 without a BOM raises a bare UnicodeError
        raise _decode_error(path, encoding, exc) from None
    first = io.StringIO(sample).readline()
    counts = {d: first.count(d) for d in ("\t", ",", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise DataError(
            f"{where(path, 1)}: cannot tell the delimiter (tab, comma, semicolon or pipe)"
        )
    return best


def parse_times(table: Table, column: str, label: str = "timestamp") -> np.ndarray:
    """Timestamps as finite float64: numbers as they are, or ISO dates/times as unix seconds.

    The first row says which the column holds; the first value that is not of that kind is
    reported with its own line and value (so are nan and inf).
    """
    values = table.require(column, label)
    if _is_float(values[0]):
        return table.number(column, label)
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    seconds = (
        (parsed - pd.Timestamp("1970-01-01", tz="UTC"))
        .dt.total_seconds()
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    bad = np.flatnonzero(~np.isfinite(seconds))
    if len(bad):
        value = values[bad[0]]
        table._fail_row(int(bad[0]), f"{label} {value!r} is not an ISO date (the first row's is one)")
    return seconds

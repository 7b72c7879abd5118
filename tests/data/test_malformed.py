"""Each kind of bad input gives a DataError naming the file (and line): through the API and the CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.loader import load_domain
from recgraft.errors import ConfigError, DataError, RecgraftError

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"

# name -> (make(tmp_path) -> (path, options), expected message regex, error type)
Case = tuple[Callable[[Path], tuple[Path, dict[str, Any]]], str, type[RecgraftError]]


def file(tmp: Path, name: str, data: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


CASES: dict[str, Case] = {
    "missing column (csv)": (
        lambda t: (file(t, "d.csv", "user,rating\n1,5\n"), {}),
        r"d\.csv:1: no item column",
        DataError,
    ),
    "missing named column (csv)": (
        lambda t: (file(t, "d.csv", "user,item\n1,5\n"), {"rating": "stars"}),
        r"d\.csv:1: no rating column 'stars' \(columns: user, item\)",
        DataError,
    ),
    "missing field (atomic)": (
        lambda t: (file(t, "d.inter", "user_id:token\trating:float\nu\t1\n"), {}),
        r"d\.inter:1: no field 'item_id'",
        DataError,
    ),
    "rating not a number": (
        lambda t: (file(t, "d.inter", HEADER + "u\ti\t5\t1\n" * 15 + "u\tj\tabc\t2\n"), {}),
        r"d\.inter:17: rating 'abc' is not a number",
        DataError,
    ),
    "timestamp not a number": (
        lambda t: (file(t, "d.csv", "user,item,timestamp\nu,i,1\nu,j,yesterday\n"), {}),
        r"d\.csv:3: timestamp 'yesterday' is not a number",
        DataError,
    ),
    "nan timestamp (atomic)": (
        lambda t: (file(t, "d.inter", HEADER + "u\ti\t5\t1\nu\tj\t4\tnan\n"), {}),
        r"d\.inter:3: timestamp 'nan' is not a finite number",
        DataError,
    ),
    "infinite timestamp (csv)": (
        lambda t: (file(t, "d.csv", "user,item,timestamp\nu,i,1\nu,j,-inf\n"), {}),
        r"d\.csv:3: timestamp '-inf' is not a finite number",
        DataError,
    ),
    "nan timestamp (movielens)": (
        lambda t: (file(t, "u.data", "1\t2\t3\t4\n1\t3\t4\tNaN\n"), {}),
        r"u\.data:2: timestamp 'NaN' is not a finite number",
        DataError,
    ),
    "infinite rating": (
        lambda t: (file(t, "d.inter", HEADER + "u\ti\tinf\t1\n"), {}),
        r"d\.inter:2: rating 'inf' is not a finite number",
        DataError,
    ),
    "bad ISO date (csv)": (
        lambda t: (file(t, "d.csv", "user,item,time\nu,i,2020-01-01\nu,j,2020-01-02T10:00\nu,k,2020-13-45\n"), {}),
        r"d\.csv:4: timestamp '2020-13-45' is not an ISO date",
        DataError,
    ),
    "number among ISO dates (csv)": (
        lambda t: (file(t, "d.csv", "user,item,time\nu,i,2020-01-01\nu,j,1700000000\n"), {}),
        r"d\.csv:3: timestamp '1700000000' is not an ISO date",
        DataError,
    ),
    "too many fields": (
        lambda t: (file(t, "d.inter", HEADER + "u\ti\t5\t1\nu\tj\t4\t2\textra\n"), {}),
        r"d\.inter:3: expected 4 fields, found 5",
        DataError,
    ),
    "row longer than a one-column header": (
        lambda t: (file(t, "d.csv", "user\nu\nu,i\n"), {}),
        r"d\.csv:3: expected 1 fields, found 2",
        DataError,
    ),
    "too few fields": (
        lambda t: (file(t, "d.inter", HEADER + "u\ti\t5\t1\n\nu\tj\n"), {}),
        r"d\.inter:4: expected 4 fields, found 2",
        DataError,
    ),
    "empty user": (
        lambda t: (file(t, "d.csv", "user,item\n,i\n"), {}),
        r"d\.csv:2: user is empty",
        DataError,
    ),
    "empty file": (
        lambda t: (file(t, "d.csv", ""), {}),
        r"d\.csv: file is empty",
        DataError,
    ),
    "header only": (
        lambda t: (file(t, "d.inter", HEADER), {}),
        r"d\.inter: no data rows",
        DataError,
    ),
    "undecodable bytes": (
        lambda t: (file(t, "d.csv", b"user,item\nu,i\nu,caf\xe9\n"), {}),
        r"d\.csv:3: byte 0xe9 at column 6 is not valid utf-8",
        DataError,
    ),
    "unknown atomic type": (
        lambda t: (file(t, "d.inter", "user_id:token\titem_id:blob\nu\ti\n"), {}),
        r"d\.inter:1: field 'item_id:blob' has unknown type 'blob'",
        DataError,
    ),
    "movielens wrong separator": (
        lambda t: (file(t, "ratings.dat", "1::2::3::4\n1:2::3::4::\n"), {}),
        r"ratings\.dat:2: ",
        DataError,
    ),
    "movielens bad number": (
        lambda t: (file(t, "u.data", "1\t2\t3\t4\n1\t3\tx\t5\n"), {}),
        r"u\.data:2: rating 'x' is not a number",
        DataError,
    ),
    "unknown format": (
        lambda t: (file(t, "d.csv", "user,item\nu,i\n"), {"format": "parquet"}),
        r"unknown dataset 'parquet'",
        DataError,
    ),
    "undetectable format": (
        lambda t: (file(t, "d.bin", "user,item\nu,i\n"), {}),
        r"d\.bin: cannot tell the data format",
        DataError,
    ),
    "missing path": (
        lambda t: (t / "nope.csv", {}),
        r"nope\.csv: no such file or directory",
        DataError,
    ),
    "unknown encoding": (
        lambda t: (file(t, "d.csv", "user,item\nu,i\n"), {"encoding": "no-such-codec"}),
        r"dataset 'csv': encoding: .*no-such-codec",
        ConfigError,
    ),
    "not a text encoding": (
        lambda t: (file(t, "d.csv", "user,item\nu,i\n"), {"encoding": "base64"}),
        r"dataset 'csv': encoding: .*base64",
        ConfigError,
    ),
    "unknown option": (
        lambda t: (file(t, "d.csv", "user,item\nu,i\n"), {"colour": "red"}),
        r"dataset 'csv': colour: Extra inputs are not permitted",
        ConfigError,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_api_raises_typed_error(case: str, tmp_path: Path) -> None:
    make, pattern, error = CASES[case]
    path, options = make(tmp_path)
    with pytest.raises(error, match=pattern):
        load_domain(path, **options)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_cli_one_line_exit_2(case: str, tmp_path: Path) -> None:
    make, pattern, _ = CASES[case]
    path, options = make(tmp_path)
    args = ["data", "stats", str(path)]
    fmt = options.pop("format", None)
    if fmt:
        args += ["--format", fmt]
    for key, value in options.items():
        args += ["-o", f"{key}={value}"]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.output


def test_undecodable_bytes_hint_names_the_option_that_fixes_it(tmp_path: Path) -> None:
    path = file(tmp_path, "d.csv", b"user,item\nu,i\nu,caf\xe9\n")
    failed = CliRunner().invoke(build_cli(), ["data", "stats", str(path)])
    assert failed.exit_code == 2 and "--option encoding=NAME" in failed.output
    fixed = CliRunner().invoke(build_cli(), ["data", "stats", str(path), "--option", "encoding=latin-1", "--json"])
    assert fixed.exit_code == 0, fixed.output

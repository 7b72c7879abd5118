from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli


def inter(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    folder.mkdir()
    rows = "".join(
        f"u{u}\ti{(u * 3 + k) % 7}\t{1 + k % 5}\t{978300000 + 86400 * k}\n"
        for u in range(4)
        for k in range(u + 2)
    )
    (folder / "toy.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + rows
    )
    (folder / "toy.item").write_text(
        "item_id:token\ttitle:token\n" + "".join(f"i{i}\tT{i}\n" for i in range(7))
    )
    return folder


def test_stats_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["data", "stats", str(inter(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["users"] == 4 and stats["interactions"] == 2 + 3 + 4 + 5
    assert stats["history_length"]["min"] == 2 and stats["history_length"]["max"] == 5
    assert stats["time"]["first"] == "2000-12-31" and stats["time"]["unix_seconds"] is True
    assert stats["ratings"] == {"min": 1.0, "max": 5.0, "mean": stats["ratings"]["mean"]}
    assert stats["item_features"] == ["title"] and stats["user_features"] == []
    assert len(stats["fingerprint"]) == 64


def test_stats_table_and_format_option(tmp_path: Path) -> None:
    csv = tmp_path / "e.txt"
    csv.write_text("uid|iid\na|x\nb|x\nb|y\n")
    result = CliRunner().invoke(
        build_cli(),
        ["data", "stats", str(csv), "--format", "csv", "-o", "user=uid", "-o", "item=iid"],
    )
    assert result.exit_code == 0, result.output
    assert "interactions" in result.output and "3" in result.output


def test_stats_bad_option_syntax(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_cli(), ["data", "stats", str(inter(tmp_path)), "-o", "nonsense"]
    )
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_stats_list_valued_loader_options_as_commas_or_json(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('user,item,genre,"a,b"\nu,i,drama,1\nv,j,comedy,2\n')
    for value in ("genre", "genre,a", '["genre", "a,b"]'):
        result = CliRunner().invoke(build_cli(), ["data", "stats", str(path), "-o", f"item_features={value}", "--json"])
        if value == "genre,a":
            assert result.exit_code == 2 and "no feature column 'a'" in result.stderr
            continue
        assert result.exit_code == 0, result.output
        assert sorted(json.loads(result.stdout)["item_features"]) == sorted(json.loads(value if "[" in value else f'["{value}"]'))


def test_stats_loader_option_errors_are_one_line(tmp_path: Path) -> None:
    folder = str(inter(tmp_path))
    for option, message in [("format=csv", "--option format: not a loader option; use --format"),
                            ("item_features=[1,", "--option item_features: not a JSON list"),
                            ("load_item_features=maybe", "dataset 'atomic': load_item_features: Input should be")]:
        result = CliRunner().invoke(build_cli(), ["data", "stats", folder, "-o", option])
        assert result.exit_code == 2 and result.stderr.count("\n") == 1
        assert message in result.stderr


# --- fuzzing: whatever a data file holds, `data stats` succeeds with JSON or says why in one line

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CELLS = st.sampled_from(["u1", "i2", "3", "-4.5", "nan", "inf", "-Infinity", "2020-01-01", "2020-13-45",
                         "1e309", "", " ", '"', "caf\u00e9", "\u00e9", "::", "|", "1_0", "0x1f", "NaT"])
HEADERS = st.sampled_from(["user,item,timestamp,rating", "item_id:token\ttitle:token\tyear:float", "1|T|x", "user_id:token\titem_id:token\ttimestamp:float",
                           "user_id:token\titem_id:token\trating:float\ttimestamp:float", "uid;iid;ts", "", "a"])
FILES = st.sampled_from(["d.csv", "d.tsv", "d.inter", "u.data", "ratings.dat", "d.txt"])
SIDE_FILES = {"d.inter": ("d.item", "d.user"), "u.data": ("u.item", "u.user"), "ratings.dat": ("movies.dat", "users.dat")}


@st.composite
def table_text(draw: st.DrawFn) -> bytes:
    """A header and rows of plausible and implausible cells, joined by one of the usual separators."""
    sep = draw(st.sampled_from([",", "\t", ";", "::", "|"]))
    rows = draw(st.lists(st.lists(CELLS, min_size=1, max_size=5), max_size=6))
    text = draw(HEADERS) + "\n" + "\n".join(sep.join(row) for row in rows)
    return text.encode(draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])), errors="replace")


def _no_json_constants(name: str) -> None:
    raise AssertionError(f"--json printed {name}, which is not JSON")


@pytest.mark.filterwarnings("error")  # a warning would reach the user's terminal as more lines
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=FILES, data=st.one_of(table_text(), st.binary(max_size=120)),
       options=st.lists(st.sampled_from(["encoding=latin-1", "encoding=utf-16", "delimiter=;", "user=uid",
                                         "item_features=timestamp", "timestamp=rating"]), max_size=2),
       side=st.none() | table_text() | st.binary(max_size=60))
def test_data_stats_on_any_file_succeeds_or_fails_in_one_line(
    tmp_path: Path, name: str, data: bytes, options: list[str], side: bytes | None
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    for other in SIDE_FILES.get(name, ()):  # the feature files read beside the ratings
        if side is None:
            (tmp_path / other).unlink(missing_ok=True)
        else:
            (tmp_path / other).write_bytes(side)
    args = ["data", "stats", str(path), "--json"]
    if path.suffix in (".csv", ".tsv", ".txt"):
        args += [arg for option in options for arg in ("-o", option)] + ["--format", "csv"]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code in (0, 2), result.output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    else:
        json.loads(result.stdout, parse_constant=_no_json_constants)

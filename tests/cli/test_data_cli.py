from __future__ import annotations

import json
from pathlib import Path

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

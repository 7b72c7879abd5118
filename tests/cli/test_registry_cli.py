from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from recgraft.cli import build_cli
from recgraft.registry import Registry
from recgraft.registry.files.base import uri_to_path

from ..conftest import fake_checkpoint


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECGRAFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RECGRAFT_REGISTRY_URL", raising=False)
    monkeypatch.delenv("RECGRAFT_CHECKPOINTS", raising=False)
    return tmp_path / "home"


@pytest.fixture
def reg(home: Path) -> Registry:
    registry = Registry.open()
    for name, domain, parents in [
        ("pre", "ml-1m", []),
        ("ft", "ml-100k", [("pre@1", "finetune")]),
    ]:
        registry.register(
            name,
            fake_checkpoint(f"{name} weights".encode()),
            domain=domain,
            encoder="transformer",
            encoder_config={"d": 8},
            parents=parents,
        )
    yield registry
    registry.close()


def invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(build_cli(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_json(reg: Registry) -> None:
    code, out, _ = invoke("registry", "list", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["count"] == 2 and [c["reference"] for c in data["checkpoints"]] == ["ft@1", "pre@1"]
    assert data["checkpoints"][0]["parents"] == [{"reference": "pre@1", "relation": "finetune"}]
    code, out, _ = invoke("registry", "list", "--domain", "ml-1m", "--json")
    assert [c["reference"] for c in json.loads(out)["checkpoints"]] == ["pre@1"]


def test_list_table(reg: Registry) -> None:
    code, out, _ = invoke("registry", "list")
    assert code == 0 and out.splitlines()[0].startswith("REFERENCE") and "ft@1" in out


def test_show(reg: Registry) -> None:
    code, out, _ = invoke("registry", "show", "ft@1", "--json")
    assert code == 0 and json.loads(out)["checkpoint"]["domain"] == "ml-100k"
    code, out, _ = invoke("registry", "show", "ft")
    assert code == 0 and "pre@1 (finetune)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "a/b"), "path separators"),
        (("show", "a\\b"), "path separators"),
        (("show", ""), "empty"),
        (("show", "pre@9"), "no version 9"),
        (("show", "pre@prod"), "no alias 'prod'"),
        (("show", "nobody"), "no checkpoint named"),
        (("lineage", "../etc"), "path separators"),
        (("remove", "pre@77"), "no version 77"),
        (("tag", "pre", "12"), "cannot be a number"),
        (("export", "x/y", "out.tar"), "path separators"),
        (("show", "pre@99999999999999999999"), "versions go up to"),
        (("remove", "pre@99999999999999999999"), "versions go up to"),
        (("show", "pre@\uff11"), "invalid alias"),
        (("show", "nobody@1.5"), "invalid alias '1.5'"),
        (("show", "nobody@prod"), "no checkpoint named 'nobody'"),
    ],
)
def test_bad_references_exit_2_with_one_line(
    reg: Registry, args: tuple[str, ...], message: str
) -> None:
    code, out, err = invoke("registry", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("Error: ") and message in err


def test_lineage_formats(reg: Registry) -> None:
    code, out, _ = invoke("registry", "lineage", "ft", "--format", "json")
    assert code == 0 and json.loads(out)["ancestors"] == ["pre@1"]
    code, out, _ = invoke("registry", "lineage", "pre", "--json")
    assert json.loads(out)["descendants"] == ["ft@1"]
    code, out, _ = invoke("registry", "lineage", "pre", "--format", "mermaid")
    assert out.startswith("flowchart TD") and "-->|finetune|" in out
    code, out, _ = invoke("registry", "lineage", "pre")
    assert code == 0 and "finetune: ft@1" in out


def test_tag_moves_alias(reg: Registry) -> None:
    reg.register("pre", fake_checkpoint(b"v2"), domain="ml-1m", encoder="transformer", encoder_config={})
    code, out, _ = invoke("registry", "tag", "pre@1", "prod", "--json")
    assert code == 0 and json.loads(out) == {
        "alias": "pre@prod",
        "reference": "pre@1",
        "previous": None,
    }
    code, out, _ = invoke("registry", "tag", "pre@2", "prod", "--json")
    assert json.loads(out)["previous"] == "pre@1"
    assert reg.resolve("pre@prod").version == 2


def test_remove_needs_force_with_descendants(reg: Registry) -> None:
    code, _, err = invoke("registry", "remove", "pre")
    assert code == 2 and "has descendants" in err and "--force" in err
    code, out, _ = invoke("registry", "remove", "pre", "--force", "--json")
    assert code == 0 and json.loads(out)["removed"]["reference"] == "pre@1"
    code, out, _ = invoke("registry", "lineage", "ft", "--json")
    assert json.loads(out)["nodes"][0]["removed"] is True


def test_verify_reports_tampering_and_cleans_orphans(reg: Registry) -> None:
    code, out, _ = invoke("registry", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    path = uri_to_path(reg.resolve("pre").uri)
    path.write_bytes(b"Pre weights")
    reg.store.put(b"orphan")
    code, out, _ = invoke("registry", "verify", "--json")
    data = json.loads(out)
    assert code == 1 and len(data["mismatched"]) == 1 and len(data["orphans"]) == 1
    code, out, _ = invoke("registry", "verify", "--clean", "--json")
    assert json.loads(out)["removed_orphans"] == data["orphans"]


def test_export_import(reg: Registry, tmp_path: Path) -> None:
    bundle = tmp_path / "ft.tar"
    code, out, _ = invoke("registry", "export", "ft", str(bundle), "--json")
    assert code == 0 and json.loads(out) == {"reference": "ft@1", "path": str(bundle)}
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code, out, _ = invoke("registry", "import", str(bundle), "--registry", other, "--json")
    assert code == 0 and json.loads(out)["imported"]["reference"] == "ft@1"
    code, _, err = invoke("registry", "import", str(tmp_path / "nope.tar"))
    assert code == 2 and "no such bundle" in err


def test_registry_option_and_upgrade(home: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    code, out, _ = invoke("registry", "upgrade", "--registry", url, "--json")
    assert code == 0 and json.loads(out)["revision"]
    assert (tmp_path / "elsewhere.db").exists() and not (home / "registry.db").exists()


def test_store_option_points_at_the_checkpoint_store(home: Path, tmp_path: Path) -> None:
    from recgraft.registry import CheckpointStore

    _, _, orphan = CheckpointStore(tmp_path / "team-store").put(b"orphan")
    code, out, _ = invoke("registry", "verify", "--json")
    assert code == 0 and json.loads(out)["orphans"] == []  # $RECGRAFT_HOME/checkpoints
    code, out, _ = invoke("registry", "verify", "--store", str(tmp_path / "team-store"), "--json")
    assert code == 1 and json.loads(out)["orphans"] == [orphan]


def test_list_on_each_backend(home: Path, new_database_url: Callable[[str], str]) -> None:
    url = new_database_url("team")
    with Registry.open(url=url) as registry:
        registry.register("pre", fake_checkpoint(b"w"), domain="ml-1m", encoder="transformer", encoder_config={})
    code, out, _ = invoke("registry", "list", "--registry", url, "--json")
    assert code == 0 and [c["reference"] for c in json.loads(out)["checkpoints"]] == ["pre@1"]
    code, out, _ = invoke("registry", "upgrade", "--registry", url, "--json")
    shown = make_url(url).render_as_string(hide_password=True)  # a password never shows
    assert code == 0 and json.loads(out)["url"] == shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--store", "nosuchfs://bucket/x"), "Protocol not known: nosuchfs"),
        (("--registry", "not a url"), "not a database URL"),
        (
            ("--registry", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"),
            "cannot open the registry database postgresql+psycopg://u:***@127.0.0.1:1/x",
        ),
    ],
)
def test_bad_store_or_database_exits_2_with_one_line(
    home: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = invoke("registry", "list", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "s3cret" not in err


def test_real_subprocess_list_json(reg: Registry, home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recgraft", "registry", "list", "--json"],
        env={**os.environ, "RECGRAFT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["count"] == 2


def test_real_subprocess_bad_reference(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recgraft", "registry", "show", "a/b", "--json"],
        env={**os.environ, "RECGRAFT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "path separators" in result.stderr


def test_no_torch_imported() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import recgraft.registry, recgraft.cli.registry, sys; print('torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_export_refuses_existing_and_unmakeable_paths_with_one_line(
    reg: Registry, tmp_path: Path
) -> None:
    existing = tmp_path / "existing.tar"
    existing.write_bytes(b"keep")
    (tmp_path / "plain").write_text("x")
    for target, message in [
        (existing, "already exists: use --force"),
        (tmp_path / "plain" / "out.tar", "cannot create its folder"),
    ]:
        code, out, err = invoke("registry", "export", "pre", str(target))
        assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    assert existing.read_bytes() == b"keep"
    code, _, _ = invoke("registry", "export", "pre", str(existing), "--force")
    assert code == 0 and existing.read_bytes() != b"keep"


def test_import_of_a_bad_bundle_is_one_line_naming_the_field(reg: Registry, tmp_path: Path) -> None:
    import io
    import tarfile

    bundle = tmp_path / "pre.tar"
    assert invoke("registry", "export", "pre", str(bundle))[0] == 0
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    manifest = json.loads(members["recgraft-bundle.json"])
    manifest["checkpoint"]["size"] = "big"
    members["recgraft-bundle.json"] = json.dumps(manifest).encode()
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code, out, err = invoke("registry", "import", str(bad), "--registry", other)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "checkpoint.size: Input should be a valid integer" in err


def test_read_commands_on_a_missing_database_create_nothing(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    code, out, err = invoke("registry", "list", "--registry", f"sqlite:///{missing}")
    assert code == 0 and out == "" and err == "no checkpoints\n"
    code, out, _ = invoke("registry", "list", "--json")
    assert code == 0 and json.loads(out)["count"] == 0
    code, _, err = invoke("registry", "show", "pre")
    assert code == 2 and "no checkpoint named 'pre'" in err
    code, out, _ = invoke("registry", "verify", "--json")
    assert code == 0 and json.loads(out)["checked"] == 0
    assert not (tmp_path / "nonexistent").exists() and not home.exists()


def test_verify_clean_on_a_missing_database_deletes_nothing(home: Path, tmp_path: Path) -> None:
    from recgraft.registry import CheckpointStore

    _, _, uri = CheckpointStore(home / "checkpoints").put(b"someone's checkpoint")
    code, out, err = invoke("registry", "verify", "--clean")
    assert code == 2 and out == "" and err.count("\n") == 1 and "no registry at" in err
    assert uri_to_path(uri).is_file() and not (home / "registry.db").exists()


def test_list_on_a_foreign_database_is_one_line_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    import sqlite3

    (tmp_path / "w").mkdir()
    path = tmp_path / "w" / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    before = path.read_bytes()
    for command in ("list", "upgrade"):
        code, out, err = invoke("registry", command, "--registry", f"sqlite:///{path}")
        assert code == 2 and out == "" and err.count("\n") == 1 and "not made by recgraft" in err
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["app.db"]


@pytest.mark.parametrize("command", [["recommend", "pre", "--history", "x"], ["evaluate", "pre", "--data", "d"]])
def test_model_commands_on_a_missing_registry_are_one_line_and_create_nothing(
    home: Path, command: list[str]
) -> None:
    code, out, err = invoke(*command)
    assert code == 2 and out == "" and err.count("\n") == 1 and "no registry at" in err
    assert not home.exists()


@pytest.mark.parametrize("command", [["list"], ["show", "pre"], ["verify"], ["import", "x.tar"], ["upgrade"]])
def test_a_home_that_is_a_regular_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    home = tmp_path / "home-file"
    home.write_text("x")
    monkeypatch.setenv("RECGRAFT_HOME", str(home))
    monkeypatch.delenv("RECGRAFT_REGISTRY_URL", raising=False)
    code, out, err = invoke("registry", *command)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"the recgraft home {home} (RECGRAFT_HOME) is not a folder" in err


def test_verify_prints_its_summary_on_stdout(reg: Registry) -> None:
    code, out, err = invoke("registry", "verify")
    assert code == 0 and err == ""
    assert out == "2 records checked, 0 missing, 0 mismatched, 0 orphans\n"


def test_lineage_help_explains_the_marker_of_the_tree() -> None:
    code, out, _ = invoke("registry", "lineage", "--help")
    assert code == 0 and '"<==" marks' in out and "REF, the checkpoint asked about" in " ".join(out.split())

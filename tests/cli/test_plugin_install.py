"""A third-party plugin, built and installed with ``recgraft plugins install`` into a fresh
virtual environment, used by name from the CLI (real processes, no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "recgraft-bagofitems"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "torch==2.13.0", str(ROOT)], check=True, capture_output=True)
    return folder


def recgraft(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RECGRAFT_HOME=str(cwd / "home"), OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(venv / "bin" / "recgraft"), *args], capture_output=True, text=True, env=env, cwd=cwd)


def components(venv: Path, cwd: Path) -> dict[str, dict[str, str]]:
    listed = recgraft(venv, "plugins", "list", "--json", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    return {c["name"]: c for c in json.loads(listed.stdout)["components"]}


def test_plugin_installs_runs_and_uninstalls(venv: Path, tmp_path: Path) -> None:
    installed = recgraft(venv, "plugins", "install", f"{EXAMPLE}[test]", cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    own_tests = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True, text=True, cwd=EXAMPLE, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    found = components(venv, tmp_path)
    assert found["bag"]["source"] == "entry point" and found["bag"]["kind"] == "encoder"
    assert found["embeddings-only"]["plugin"] == "bagofitems" and found["embeddings-only"]["status"] == "ok"
    assert "recgraft-bagofitems==0.1.0" in recgraft(venv, "plugins", "list", "--requirements", cwd=tmp_path).stdout

    assert recgraft(venv, "data", "synthetic", "data", cwd=tmp_path).returncode == 0
    pretrained = recgraft(venv, "pretrain", "--data", "data/source", "--encoder", "bag", "--epochs", "2",
                          "--set", "max_length=10", "--json", cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr
    assert json.loads(pretrained.stdout)["checkpoint"] == "source-bag@1"
    transferred = recgraft(venv, "transfer", "--from", "source-bag", "--data", "data/target",
                           "--strategy", "embeddings-only", "--epochs", "2", "--no-baseline", "--json", cwd=tmp_path)
    assert transferred.returncode == 0, transferred.stderr
    child = json.loads(transferred.stdout)["checkpoint"]
    lineage = recgraft(venv, "registry", "lineage", "source-bag", "--format", "json", cwd=tmp_path)
    assert lineage.returncode == 0, lineage.stderr
    assert "embeddings-only" in lineage.stdout and child in lineage.stdout

    removed = recgraft(venv, "plugins", "uninstall", "recgraft-bagofitems", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "bag" not in components(venv, tmp_path)


def test_a_checkpoint_of_an_uninstalled_plugin_names_the_distribution_to_install(venv: Path, tmp_path: Path) -> None:
    assert recgraft(venv, "plugins", "install", str(EXAMPLE), cwd=tmp_path).returncode == 0
    assert recgraft(venv, "data", "synthetic", "data", cwd=tmp_path).returncode == 0
    pretrained = recgraft(venv, "pretrain", "--data", "data/source", "--encoder", "bag", "--epochs", "1",
                          "--set", "max_length=10", cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr
    assert recgraft(venv, "plugins", "uninstall", "recgraft-bagofitems", cwd=tmp_path).returncode == 0

    used = recgraft(venv, "recommend", "source-bag", "--history", "i1", cwd=tmp_path)
    assert used.returncode == 2, used.stderr
    assert used.stderr.strip() == (
        "Error: checkpoint source-bag@1: unknown encoder 'bag': this checkpoint needs it from the "
        "distribution recgraft-bagofitems 0.1.0 (pip install recgraft-bagofitems)"
    )

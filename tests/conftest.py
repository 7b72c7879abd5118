"""Fixtures shared by every test: an isolated recgraft home and a fresh plugin system."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from recgraft import plugin_manager

PLUGIN_FIXTURES = Path(__file__).parent / "plugins"


def pytest_configure(config: pytest.Config) -> None:
    """Toy-sized models run fastest on one thread, and test subprocesses then never
    oversubscribe the cores; set before torch is first imported (here or in subprocesses)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own $RECGRAFT_HOME and runs outside the repo (no plugins.toml)."""
    home = tmp_path / "recgraft-home"
    home.mkdir()
    monkeypatch.setenv("RECGRAFT_HOME", str(home))
    for var in ("RECGRAFT_REGISTRY_URL", "RECGRAFT_PLUGINS_TOML", "RECGRAFT_LOAD_PLUGINS",
                "RECGRAFT_TRACE_PLUGINS", "RECGRAFT_CHECKPOINTS"):
        monkeypatch.delenv(var, raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    plugin_manager.reset()
    yield home
    plugin_manager.reset()


@pytest.fixture
def plugins_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a plugins.toml and point recgraft at it; returns a writer taking the TOML text."""

    def write(text: str) -> Path:
        path = tmp_path / "plugins.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("RECGRAFT_PLUGINS_TOML", str(path))
        plugin_manager.reset()
        return path

    return write

"""Packaging and contract meta-checks: every package is shipped, every hook is documented and tested."""

from __future__ import annotations

import tomllib
from pathlib import Path

from recgraft import hookspecs

ROOT = Path(__file__).parents[1]
PACKAGE_DIRS = {"recgraft": "core", "recgraft.plugins": "plugins", "recgraft.registry": "registry"}


def shipped_packages() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_folder_with_an_init_is_a_listed_package() -> None:
    found = set()
    for package, folder in PACKAGE_DIRS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found == shipped_packages()


def hook_names() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith("register_")]


def test_every_hook_has_a_docstring_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in hook_names():
        assert getattr(hookspecs, name).__doc__, name
        assert name in readme, name


def test_every_hook_is_exercised_by_a_test_plugin_or_builtin() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != "test_packaging.py")
    sources += "\n".join(p.read_text() for p in (ROOT / "plugins").rglob("__init__.py"))
    for name in hook_names():
        assert f"def {name}(" in sources, name

"""Options and helpers shared by several commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """``--json``: print one JSON object on stdout and nothing else there."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(func)


def registry_option(func: F) -> F:
    """``--registry URL``: the registry's SQLAlchemy URL (default: SQLite in $RECGRAFT_HOME)."""
    return click.option(
        "--registry",
        "registry_url",
        envvar="RECGRAFT_REGISTRY_URL",
        default=None,
        metavar="URL",
        help="Registry database URL (default: sqlite in $RECGRAFT_HOME; env RECGRAFT_REGISTRY_URL).",
    )(func)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as the command's one JSON object."""
    click.echo(json.dumps(payload, indent=2, default=str))

"""Options and helpers shared by several commands."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from recgraft.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])


#: ``--device``: where to run (auto picks cuda, then mps, then cpu).
device_option = click.option(
    "--device", default="auto", type=click.Choice(["auto", "cpu", "cuda", "mps"]), show_default=True,
    help="Where to run: auto picks cuda, then mps, then cpu.",
)

#: ``--format``: the data plugin that reads --data (detected from the files by default).
data_format_option = click.option("--format", "data_format", default=None, help="Data format (detected by default).")

#: ``--epochs``: the most epochs a training command runs.
epochs_option = click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help="Most epochs (early stopping may stop sooner)."
)


def json_option(func: F) -> F:
    """``--json``: print one JSON object on stdout and nothing else there."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(func)


def registry_option(func: F) -> F:
    """``--registry URL``: the registry's SQLAlchemy URL (default: SQLite in $RECGRAFT_HOME),
    and ``--store URL``: where its checkpoint files go (default: $RECGRAFT_HOME/checkpoints).

    The command gets ``registry_url``; ``--store`` applies to every registry the command
    opens without naming a store (through :func:`recgraft.registry.db.default_store`).
    """

    @functools.wraps(func)
    def with_store(*args: Any, checkpoint_store: str | None = None, **kwargs: Any) -> Any:
        from recgraft.registry.db import default_store

        with default_store(checkpoint_store):
            return func(*args, **kwargs)

    with_store = click.option(
        "--store",
        "checkpoint_store",
        default=None,
        metavar="URL",
        help="Checkpoint store: a folder or an fsspec URL such as s3://bucket/prefix "
        "(default: $RECGRAFT_HOME/checkpoints; env RECGRAFT_CHECKPOINTS).",
    )(with_store)
    return click.option(
        "--registry",
        "registry_url",
        envvar="RECGRAFT_REGISTRY_URL",
        default=None,
        metavar="URL",
        help="Registry database URL, e.g. postgresql://user:password@host/db (default: sqlite "
        "in $RECGRAFT_HOME; env RECGRAFT_REGISTRY_URL).",
    )(with_store)  # type: ignore[return-value]


def echo_json(payload: Any, indent: int | None = 2) -> None:
    """Print ``payload`` as the command's one JSON object: every ``--json`` goes through here.

    Strict JSON (``allow_nan=False``): a NaN or infinity is a bug upstream (metrics are finite
    or None), so it fails loudly rather than printing ``NaN``, which JSON parsers reject.
    ``indent=None`` prints one line (json's fast C encoder, for large listings).
    """
    click.echo(json.dumps(payload, indent=indent, default=str, allow_nan=False))


def read_checkpoint(registry: Registry | None, reference: str) -> tuple[str, bytes]:
    """REF resolved (``NAME@N``) and its checkpoint's bytes, read by rank 0 (the one process
    that opened ``registry``) and shared with every process of a torchrun job."""
    from recgraft import distributed
    from recgraft.checkpoint import registry_reader

    def read() -> tuple[str, bytes]:
        assert registry is not None
        return registry_reader(registry)(reference)

    return distributed.share(read)

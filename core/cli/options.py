"""Options and helpers shared by several commands."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from recgraft.components import MAX_SEED
from recgraft.errors import DataError

if TYPE_CHECKING:
    from recgraft.data.domain import Domain
    from recgraft.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])


#: ``--device``: where to run (auto picks cuda, then mps, then cpu).
device_option = click.option(
    "--device", default="auto", type=click.Choice(["auto", "cpu", "cuda", "mps"]), show_default=True,
    help="Where to run: auto picks cuda, then mps, then cpu.",
)

#: The seeds every command takes: what torch, numpy and the registry's integers all accept.
SEED = click.IntRange(0, MAX_SEED)


def seed_option(help: str = "Seeds Python, numpy and torch.") -> Callable[[F], F]:
    """``--seed N``, 0 <= N < 2**63 (click rejects other values at parsing)."""
    return click.option("--seed", type=SEED, default=0, show_default=True, help=help)


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan and inf, which compare false with any bound."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: load_domain's own arguments, which the command line sets with other flags.
NOT_LOADER_OPTIONS = {"path": "give the data as the command's path", "format": "use --format",
                      "name": "use --domain (or the path's name)"}


def parse_loader_options(pairs: tuple[str, ...], flag: str = "--option") -> dict[str, Any]:
    """``KEY=VALUE`` loader options as load_domain's keyword arguments; a VALUE that starts with
    ``[`` is a JSON list (``item_features=["a,b","c"]``), any other is text (lists: ``a,b``)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DataError(f"{flag} expects KEY=VALUE, got {pair!r}")
        if key.strip() in NOT_LOADER_OPTIONS:
            raise DataError(f"{flag} {key.strip()}: not a loader option; {NOT_LOADER_OPTIONS[key.strip()]}")
        if value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise DataError(f"{flag} {key.strip()}: not a JSON list: {exc}") from None
        options[key.strip()] = value
    return options


def loader_options(prefix: str = "", what: str = "--data") -> Callable[[F], F]:
    """``--format NAME`` and ``--option/-o KEY=VALUE`` (repeatable): how ``what`` is read.

    The command gets ``data_format`` and ``loader_options`` (a dict for load_domain); with a
    prefix, ``PREFIX_data_format`` and ``PREFIX_loader_options`` from ``--PREFIX-format`` and
    ``--PREFIX-option``.
    """
    dash, under = (f"{prefix}-", f"{prefix}_") if prefix else ("", "")
    pairs_name, options_name = f"{under}option_pairs", f"{under}loader_options"
    flag = f"--{dash}option"

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def with_options(*args: Any, **kwargs: Any) -> Any:
            kwargs[options_name] = parse_loader_options(kwargs.pop(pairs_name), flag)
            return func(*args, **kwargs)

        with_options = click.option(
            flag, *(["-o"] if not prefix else []), pairs_name, multiple=True, metavar="KEY=VALUE",
            help=f"Loader option for {what} (repeatable), e.g. user=uid, encoding=latin-1, "
            "item_features=genre,year (or a JSON list).",
        )(with_options)
        return click.option(  # type: ignore[return-value]
            f"--{dash}format", f"{under}data_format", default=None, metavar="NAME",
            help=f"Data format of {what} (default: detected).",
        )(with_options)

    return decorate

def _parse_split_spec(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The canonical split spec; a bad one is parse_split's one-line ConfigError (exit 2)."""
    from recgraft.data.split import parse_split

    return None if value is None else str(parse_split(value))


def split_option(help: str = "Evaluation protocol", default: str | None = "loo") -> Callable[[F], F]:
    """``--split SPEC``: loo (default), ratio:0.8,0.1,0.1, ratio-time:0.8,0.1,0.1 or temporal:0.8,0.1.

    The command gets ``split`` as the canonical spec (``recgraft.data.split.parse_split``), or
    None when ``default`` is None and none is given.
    """
    return click.option(
        "--split", "split", default=default, show_default=default is not None, metavar="SPEC",
        callback=_parse_split_spec,
        help=f"{help}: loo (leave-one-out by time), ratio:TRAIN,VALID,TEST (per user, random, by --seed), "
        "ratio-time:TRAIN,VALID,TEST (per user, in time order) or temporal:TRAIN,VALID (one global cut "
        "by timestamp quantiles).",
    )


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

    The command gets ``registry_url`` and ``checkpoint_store`` and passes them to every
    registry it opens (``Registry.open(url=registry_url, store=checkpoint_store)``).
    """
    with_store: F = click.option(
        "--store",
        "checkpoint_store",
        default=None,
        callback=lambda ctx, param, value: value or None,  # --store "": the default store
        metavar="URL",
        help="Checkpoint store: a folder or an fsspec URL such as s3://bucket/prefix "
        "(default: $RECGRAFT_HOME/checkpoints; env RECGRAFT_CHECKPOINTS).",
    )(func)
    return click.option(
        "--registry",
        "registry_url",
        envvar="RECGRAFT_REGISTRY_URL",
        default=None,
        metavar="URL",
        help="Registry database URL, e.g. postgresql://user:password@host/db (default: sqlite "
        "in $RECGRAFT_HOME; env RECGRAFT_REGISTRY_URL).",
    )(with_store)


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


def _parse_feature_map(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """``FEATURE=COLUMN`` pairs as a dict; a malformed one is a one-line ConfigError (exit 2)."""
    from recgraft.errors import ConfigError

    pairs = {}
    for value in values:
        feature, eq, column = value.partition("=")
        if not eq or not feature or not column:
            raise ConfigError(f"--feature-map {value!r}: give FEATURE=COLUMN, e.g. genre=class")
        pairs[feature] = column
    return pairs


def item_data_options(feature_map: bool = True) -> Callable[[F], F]:
    """``--item-vectors PATH`` (repeatable: a vector file as an item column named after it) and,
    with ``feature_map``, ``--feature-map FEATURE=COLUMN`` (repeatable: which of this domain's
    item columns feeds a checkpoint's feature column). The command gets ``item_vectors`` (a
    tuple of paths) and ``feature_map`` (a dict)."""

    def decorate(func: F) -> F:
        func = click.option(
            "--item-vectors", "item_vectors", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
            help="Item vectors computed elsewhere (.npz with 'items' and 'vectors', or .parquet with "
            "'item_id'): an item column named after the file, for the 'vectors' item feature (repeatable).",
        )(func)
        if feature_map:
            func = click.option(
                "--feature-map", "feature_map", multiple=True, metavar="FEATURE=COLUMN", callback=_parse_feature_map,
                help="Read the checkpoint's item feature FEATURE from this domain's item column COLUMN, "
                "e.g. genre=class (repeatable).",
            )(func)
        return func

    return decorate


def read_domain(path: Path, data_format: str | None, loader_options: dict[str, Any],
                item_vectors: tuple[Path, ...] = (), name: str | None = None) -> Domain:
    """The domain a command's ``--data`` names (``--format``, ``--option``, ``--domain``), with
    the vector files of ``--item-vectors`` as item columns."""
    from recgraft.data.loader import load_domain
    from recgraft.data.vectors import with_item_vectors

    return with_item_vectors(load_domain(path, format=data_format, name=name, **loader_options), item_vectors)

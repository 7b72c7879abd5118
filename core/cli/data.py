"""``recgraft data``: inspect datasets (no torch on this path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recgraft.cli.options import echo_json, json_option, loader_options, seed_option


@click.group()
def data() -> None:
    """Inspect datasets."""


@data.command()
@click.argument("path", type=click.Path(path_type=Path))
@loader_options(what="PATH")
@json_option
def stats(path: Path, data_format: str | None, loader_options: dict[str, Any], as_json: bool) -> None:
    """Users, items, interactions, density, history lengths and time span of PATH."""
    from recgraft.data.loader import load_domain
    from recgraft.data.stats import domain_stats

    domain = load_domain(path, format=data_format, **loader_options)
    summary = domain_stats(domain)
    if as_json:
        echo_json(summary)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['name']}  ({summary['source']})", show_header=False)
    table.add_column("stat", style="bold")
    table.add_column("value")
    table.add_row("users", f"{summary['users']:,}")
    table.add_row("items", f"{summary['items']:,}")
    table.add_row("interactions", f"{summary['interactions']:,}")
    table.add_row("density", f"{summary['density']:.4%}")
    history = summary["history_length"]
    if history:
        table.add_row(
            "history length",
            "  ".join(f"{k} {v:g}" for k, v in history.items() if k != "mean")
            + f"  mean {history['mean']:.1f}",
        )
    time = summary["time"]
    if time:
        span = f"  ({time['span_days']} days)" if time["span_days"] is not None else ""
        table.add_row("time", f"{time['first']} .. {time['last']}{span}")
    ratings = summary["ratings"]
    table.add_row(
        "ratings",
        f"{ratings['min']:g} .. {ratings['max']:g}, mean {ratings['mean']:.2f}"
        if ratings
        else "none",
    )
    table.add_row("item features", ", ".join(summary["item_features"]) or "none")
    table.add_row("user features", ", ".join(summary["user_features"]) or "none")
    table.add_row("fingerprint", summary["fingerprint"][:16])
    Console().print(table)


@data.command()
@click.argument("folder", type=click.Path(path_type=Path))
@seed_option("Seeds the generator; equal seeds give equal domains.")
@json_option
def synthetic(folder: Path, seed: int, as_json: bool) -> None:
    """Write two related synthetic domains (a rich source, a sparse target) as atomic files.

    The same generator drives ``recgraft demo`` and the tests: shared latent tastes,
    sequential structure, items overlapping by token and by a ``title`` column.
    """
    from recgraft.data.export import write_atomic_files
    from recgraft.data.synthetic import synthetic_domains

    written = {}
    for domain in synthetic_domains(seed=seed):
        path = write_atomic_files(domain, folder / domain.name)
        written[domain.name] = {"path": str(path), "users": domain.num_users, "items": domain.num_items,
                                "interactions": domain.num_interactions}
    if as_json:
        echo_json(written)
        return
    for name, info in written.items():
        click.echo(f"{name}: {info['path']} ({info['users']} users, {info['items']} items, "
                   f"{info['interactions']} interactions)")


commands = [data]

"""``recgraft recommend``: top items for a user of a domain, or for a history given item by item.

Needs nothing but the checkpoint (its item vocabulary travels with it). Items the user
already has are never recommended. History items the checkpoint does not know are skipped
with a warning on stderr (and listed under ``skipped`` with ``--json``); when none of the
``--history`` items is known the command fails (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recgraft.cli.options import (
    device_option,
    echo_json,
    json_option,
    loader_options,
    registry_option,
    seed_option,
)


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None, help="Domain holding --user.")
@click.option("--user", default=None, help="A user of --data; their whole history is used.")
@click.option("--history", "history", multiple=True, metavar="ITEM",
              help="An item token, oldest first; repeat the option (tokens may contain commas).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many items.")
@loader_options()
@device_option
@seed_option()
@registry_option
@json_option
def recommend(reference: str, data_path: Path | None, user: str | None, history: tuple[str, ...], k: int,
              data_format: str | None, loader_options: dict[str, Any], device: str, seed: int, registry_url: str | None,
        checkpoint_store: str | None, as_json: bool) -> None:
    """Recommend the top -k items of checkpoint REF for --user (with --data) or for --history."""
    from recgraft.errors import ConfigError, DataError

    if bool(history) == (user is not None):
        raise ConfigError("give either --history ITEM ... or --data PATH --user USER")
    if user is not None and data_path is None:
        raise ConfigError("--user needs --data PATH")

    from recgraft.engine.device import resolve_device, seed_everything
    from recgraft.recommender import load_registered
    from recgraft.registry import Registry

    registry = Registry.open(url=registry_url, store=checkpoint_store, create=False)  # a read: never creates one
    record = registry.resolve(reference)
    seed_everything(seed)
    model = load_registered(registry, record, resolve_device(device))
    tokens = list(history)
    if user is not None:
        from recgraft.data.loader import load_domain
        from recgraft.data.split import time_order

        assert data_path is not None
        domain = load_domain(data_path, format=data_format, **loader_options)
        uid = int(domain.users.lookup([user])[0])
        if uid == 0:
            raise DataError(f"unknown user {user!r} in {data_path}")
        order = time_order(domain)
        order = order[domain.user_ids[order] == uid]
        tokens = [domain.items.token(int(i)) for i in domain.item_ids[order]]
    known = model.items.lookup(tokens) > 0
    skipped = [t for t, ok in zip(tokens, known, strict=True) if not ok]
    if skipped:
        shown = ", ".join(repr(t) for t in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        click.echo(f"warning: skipping {len(skipped)} item(s) {record.reference} does not know: {shown}", err=True)
        if history and len(skipped) == len(tokens):
            raise DataError(f"none of the --history items is known to {record.reference}")
    used = [t for t, ok in zip(tokens, known, strict=True) if ok]
    items = model.recommend(used, k=k, strict=True)
    payload: dict[str, Any] = {
        "checkpoint": record.reference,
        "user": user,
        "history": len(used),
        "skipped": skipped,
        "items": [{"rank": i + 1, "item": item, "score": round(score, 5)} for i, (item, score) in enumerate(items)],
    }
    if as_json:
        echo_json(payload)
        return
    for row in payload["items"]:
        click.echo(f"{row['rank']:3}. {row['item']}  ({row['score']:.4f})")


commands = [recommend]

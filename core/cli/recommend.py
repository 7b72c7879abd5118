"""``recgraft recommend``: top items for a user of a domain, or for a history given item by item.

Needs nothing but the checkpoint (its item vocabulary travels with it). Items the user
already has are never recommended. History items the checkpoint does not know are skipped
with a warning on stderr (and listed under ``skipped`` with ``--json``); when none of the
``--history`` items is known the command fails (exit 2).

With ``--all-users --out FILE`` it recommends for every user of ``--data`` at once, in batches
through the same scorer, and writes one row per recommendation (``user, rank, item, score``)
as CSV or, for a ``.parquet`` FILE, Parquet (needs pyarrow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recgraft.cli.options import (
    device_option,
    echo_json,
    item_data_options,
    json_option,
    loader_options,
    read_domain,
    registry_option,
    seed_option,
)


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Domain holding --user; with --history, the item table of items the checkpoint never saw "
              "(scored from their item features).")
@click.option("--user", default=None, help="A user of --data; their whole history is used.")
@click.option("--history", "history", multiple=True, metavar="ITEM",
              help="An item token, oldest first; repeat the option (tokens may contain commas).")
@click.option("--all-users", is_flag=True, help="Every user of --data, written to --out (not printed).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="With --all-users: the file to write, .csv or .parquet (columns user, rank, item, score).")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many items.")
@loader_options()
@item_data_options()
@device_option
@seed_option()
@registry_option
@json_option
def recommend(reference: str, data_path: Path | None, user: str | None, history: tuple[str, ...], all_users: bool,
              out_path: Path | None, force: bool, k: int, data_format: str | None, loader_options: dict[str, Any],
              item_vectors: tuple[Path, ...], feature_map: dict[str, str],
              device: str, seed: int, registry_url: str | None, checkpoint_store: str | None, as_json: bool) -> None:
    """Recommend the top -k items of checkpoint REF for --user (with --data) or for --history;
    or, with --all-users, for every user of --data into the file --out."""
    from recgraft.errors import ConfigError, DataError

    if all_users or out_path is not None:
        if user is not None or history or not all_users or data_path is None or out_path is None:
            raise ConfigError("--all-users and --out go together, with --data PATH and without --user or --history")
        _recommend_all(reference, data_path, out_path, force, k, data_format, loader_options, item_vectors,
                       feature_map, device, seed, registry_url, checkpoint_store, as_json)
        return
    if force:
        raise ConfigError("--force only applies to --all-users --out FILE")
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
    if data_path is not None:  # its items, new ones scored from their features when the model has them
        domain = read_domain(data_path, data_format, loader_options, item_vectors)
        model = model.on_catalogue(domain, feature_map)
    if user is not None:
        from recgraft.data.split import time_order

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


#: --out suffixes and the format written.
OUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _recommend_all(reference: str, data_path: Path, out_path: Path, force: bool, k: int, data_format: str | None,
                   loader_options: dict[str, Any], item_vectors: tuple[Path, ...], feature_map: dict[str, str],
                   device: str, seed: int, registry_url: str | None,
                   checkpoint_store: str | None, as_json: bool) -> None:
    """``--all-users``: every user's top k into ``out_path``, with a progress bar on stderr."""
    import importlib.util

    from recgraft.errors import ConfigError, DataError
    from recgraft.registry.files.base import check_output_path, write_file_atomically

    kind = OUT_FORMATS.get(out_path.suffix.lower())
    if kind is None:
        raise ConfigError(f"--out {out_path}: unknown file type {out_path.suffix or '(none)'!r}; "
                          f"use {', '.join(OUT_FORMATS)}")
    if kind == "parquet" and not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
        raise ConfigError(f"--out {out_path}: writing Parquet needs pyarrow: pip install 'recgraft[parquet]' "
                          "(or write .csv)")
    check_output_path(out_path, replace=force)  # fail before any work

    from recgraft.engine.device import resolve_device, seed_everything
    from recgraft.engine.progress import Progress
    from recgraft.recommender import domain_histories, load_registered, recommend_all
    from recgraft.registry import Registry

    registry = Registry.open(url=registry_url, store=checkpoint_store, create=False)  # a read: never creates one
    record = registry.resolve(reference)
    domain = read_domain(data_path, data_format, loader_options, item_vectors)
    seed_everything(seed)
    model = load_registered(registry, record, resolve_device(device)).on_catalogue(domain, feature_map)
    _, unknown = domain_histories(model, domain)
    if unknown:
        click.echo(f"warning: {unknown:,} item(s) of {data_path} are unknown to {record.reference}; "
                   "they are left out of histories", err=True)
    with Progress(enabled=True).task("recommending", total=domain.num_users) as advance:
        table = recommend_all(model, domain, k=k, on_batch=lambda done: advance(done, {}))

    def write(tmp: Path) -> None:
        if kind == "csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)

    try:
        write_file_atomically(out_path, write, replace=force)
    except OSError as exc:
        raise DataError(f"--out {out_path}: cannot write: {exc.strerror or exc}") from None
    payload = {"checkpoint": record.reference, "out": str(out_path), "format": kind, "users": domain.num_users,
               "rows": len(table), "k": k, "unknown_items": unknown}
    if as_json:
        echo_json(payload)
        return
    click.echo(f"wrote {len(table):,} recommendations for {domain.num_users:,} users to {out_path}")


commands = [recommend]

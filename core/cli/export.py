"""``recgraft export REF --format onnx --out FILE``: a checkpoint's scoring graph for other runtimes.

Writes FILE and its item vocabulary beside it (``FILE`` with ``.items.json``), then checks
that onnxruntime's scores equal torch's (see :data:`recgraft.export.PARITY_TOLERANCE`) on the
test histories of ``--check-data`` (a domain), else on histories drawn from the catalogue.
The registry is only read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recgraft.cli.options import echo_json, json_option, loader_options, registry_option


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True,
              help="Export format.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The graph file to write (the vocabulary goes beside it).")
@click.option("--check-data", "check_data", type=click.Path(path_type=Path), default=None,
              help="A domain whose test users' histories the parity check scores.")
@loader_options(prefix="check", what="--check-data")
@click.option("--check-users", type=click.IntRange(min=1), default=256, show_default=True,
              help="How many histories the parity check scores.")
@click.option("--no-check", is_flag=True, help="Skip the onnxruntime parity check.")
@click.option("--force", is_flag=True, help="Replace existing files at --out (regular files only).")
@registry_option
@json_option
def export(reference: str, fmt: str, out: Path, check_data: Path | None, check_data_format: str | None,
           check_loader_options: dict[str, Any], check_users: int, no_check: bool, force: bool,
           registry_url: str | None,
        checkpoint_store: str | None, as_json: bool) -> None:
    """Export checkpoint REF's scoring graph (history -> scores over the catalogue)."""
    import numpy as np

    from recgraft.export import PARITY_TOLERANCE, evaluation_histories, export_onnx
    from recgraft.recommender import load_registered
    from recgraft.registry import Registry

    registry = Registry.open(url=registry_url, store=checkpoint_store, create=False)  # a read: never creates one
    record = registry.resolve(reference)
    model = load_registered(registry, record, "cpu")
    histories: list[list[int]] = []
    if not no_check:
        if check_data is not None:
            from recgraft.data.loader import load_domain

            histories = evaluation_histories(load_domain(check_data, format=check_data_format, **check_loader_options), model, check_users)
        if not histories:  # no domain, or none of its items known: draw from the catalogue
            rng = np.random.default_rng(0)
            lengths = rng.integers(1, 2 * model.max_length, size=check_users)
            histories = [rng.integers(1, len(model.items), size=n).tolist() for n in lengths]
    result = export_onnx(model, out, record.reference, check=histories, force=force)
    payload = {
        "checkpoint": record.reference,
        "format": fmt,
        "graph": str(result.graph),
        "vocabulary": str(result.vocabulary),
        "checked_histories": result.checked_histories,
        "max_relative_diff": result.max_relative_diff,
        "tolerance": PARITY_TOLERANCE,
    }
    if as_json:
        echo_json(payload)
        return
    click.echo(f"exported {record.reference} to {result.graph} (vocabulary: {result.vocabulary})")
    if result.max_relative_diff is not None:
        click.echo(f"parity: onnxruntime equals torch on {result.checked_histories} histories "
                   f"within {result.max_relative_diff:.1e} (tolerance {PARITY_TOLERANCE:.0e})")


commands = [export]

"""``recgraft demo``: the whole flow on synthetic data, with no files and no flags."""

from __future__ import annotations

import tempfile
import time

import click

from recgraft.cli.options import device_option, echo_json, json_option, registry_option, seed_option


@click.command()
@seed_option()
@device_option
@click.option("--encoder", "encoders", multiple=True, help="Encoders to run (default: transformer, lstm, gan).")
@click.option("--features/--no-features", default=True, show_default=True,
              help="Also transfer through item features onto a target that shares no item with the source.")
@registry_option
@json_option
def demo(seed: int, device: str, encoders: tuple[str, ...], features: bool, registry_url: str | None,
         checkpoint_store: str | None, as_json: bool) -> None:
    """Pretrain each encoder on a synthetic source domain, transfer it with each strategy to a
    sparse target, and print NDCG@10 and HR@10 against scratch, with the lineage; then transfer
    a transformer through its items' genre onto a target whose items are all new.

    Runs in a temporary registry unless --registry (or RECGRAFT_REGISTRY_URL) is given.
    """
    from rich.console import Console
    from rich.table import Table

    from recgraft.demo import ENCODERS, run_demo
    from recgraft.engine.progress import Progress
    from recgraft.registry import Registry

    started = time.perf_counter()
    progress = Progress(enabled=True)
    with tempfile.TemporaryDirectory(prefix="recgraft-demo-") as home:
        registry = (Registry.open(url=registry_url, store=checkpoint_store, writable=True) if registry_url
                    else Registry.open(home=home, store=checkpoint_store, writable=True))
        where = registry_url or "a temporary registry"
        progress.log(f"recgraft demo: synthetic source and sparse target domains, checkpoints in {where}")
        report = run_demo(registry, encoders or tuple(ENCODERS), seed=seed, device=device, progress=progress,
                          features=features)
        registry.close()
    seconds = time.perf_counter() - started
    if as_json:
        echo_json({**report.as_dict(), "seconds": round(seconds, 1)})
        return
    table = Table("encoder", "strategy", "NDCG@10", "HR@10", "gain over scratch (NDCG@10)",
                  title="sparse target domain, test split")
    for row in report.rows:
        gain = "" if row.gain_ndcg10 is None else f"{row.gain_ndcg10:+.1%}"
        table.add_row(row.encoder, row.strategy, f"{row.ndcg10:.4f}", f"{row.hr10:.4f}", gain)
    console = Console()
    console.print(table)
    for tree in report.lineage.values():
        console.print(tree, highlight=False)
    console.print(f"done in {seconds:.0f}s")


commands = [demo]

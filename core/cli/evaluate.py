"""``recgraft evaluate``: full-ranking metrics of any checkpoint on a domain, with the cold-start view."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
from click.core import ParameterSource

from recgraft.cli.options import (
    device_option,
    echo_json,
    item_data_options,
    json_option,
    loader_options,
    read_domain,
    registry_option,
    seed_option,
    split_option,
)

if TYPE_CHECKING:
    from recgraft.recommender import Recommender


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="Domain to evaluate on.")
@loader_options()
@click.option("--domain", "domain_name", default=None, help="Domain name (default: the data's).")
@item_data_options()
@device_option
@seed_option("Seeds the ratio split and the sampled negatives of binary metrics (default with the "
             "checkpoint's own split: the seed it was trained with).")
@split_option("Evaluation protocol (default: the one the checkpoint was trained on, else loo)", default=None)
@registry_option
@json_option
def evaluate(reference: str, data_path: Path, data_format: str | None, loader_options: dict[str, Any], domain_name: str | None,
             item_vectors: tuple[Path, ...], feature_map: dict[str, str], device: str, seed: int, split: str | None, registry_url: str | None,
             checkpoint_store: str | None, as_json: bool) -> None:
    """Evaluate checkpoint REF (pretrained or transferred) on the --split of --data (default: the
    split the checkpoint was trained on, with its seed, so the same data gives the same parts).

    Items are matched to the checkpoint's by token; test metrics are broken down by the
    length of each user's history (1-5, 6-20, 21-50, >50); a length group with no users shows
    ``-`` for its metrics (null with --json), not zeros.
    """
    from recgraft.data.split import make_split, require_evaluated_users
    from recgraft.engine.device import resolve_device, seed_everything
    from recgraft.recommender import load_registered
    from recgraft.registry import Registry

    registry = Registry.open(url=registry_url, store=checkpoint_store, create=False)  # a read: never creates one
    record = registry.resolve(reference)
    domain = read_domain(data_path, data_format, loader_options, item_vectors, domain_name)
    model = load_registered(registry, record, resolve_device(device)).on_catalogue(domain, feature_map)
    split, seed = _protocol(model, split, seed)
    data = make_split(domain, split, seed)
    require_evaluated_users(data)  # metrics over nobody are no metrics
    seed_everything(seed)
    valid = model.evaluate(data, "valid")
    test = model.evaluate(data, "test", breakdown=True)
    breakdown, by_item = ([row if row["users"] else {k: (v if k in ("bucket", "items", "users") else None)
                                                     for k, v in row.items()}
                           for row in test.pop(key)] for key in ("by_history_length", "by_item"))  # no users: no metrics, not zeros
    payload: dict[str, Any] = {
        "checkpoint": record.reference,
        "kind": model.kind,
        "domain": domain.name,
        "split": data.spec,
        "unknown_items": test.pop("unknown_items"),
        "new_items": test.pop("new_items"),  # items the checkpoint never saw, scored from their features
        "metrics": {"valid": {k: v for k, v in valid.items() if k not in ("unknown_items", "new_items")}, "test": test},
        "by_history_length": breakdown,
        "by_item": by_item,
    }
    if as_json:
        echo_json(payload)
        return
    click.echo(f"{record.reference} ({model.kind}) on {domain.name}: {test['users']:,} users"
               + (f"; {payload['unknown_items']:,} items unknown to the checkpoint" if payload["unknown_items"] else "")
               + (f"; {payload['new_items']:,} new items scored from their features" if payload["new_items"] else ""))
    for stage, metrics in payload["metrics"].items():
        click.echo(f"  {stage:5}  " + "  ".join(f"{k.upper()} {metrics[k]:.4f}" for k in ("hr@10", "ndcg@10", "mrr@10")))
    if "binary" in test:
        click.echo("  binary " + "  ".join(f"{k} {'n/a' if v is None else f'{v:.4f}'}"
                                           for k, v in test["binary"].items() if k != "count"))
    click.echo("  by history length (test):")
    for row in breakdown:
        click.echo(f"    {row['bucket']:>6}  users {row['users']:6,}  HR@10 {_metric(row['hr@10'])}  "
                   f"NDCG@10 {_metric(row['ndcg@10'])}")
    click.echo("  by held-out item (test):")
    for row in by_item:
        click.echo(f"    {row['items']:>20}  users {row['users']:6,}  HR@10 {_metric(row['hr@10'])}  "
                   f"NDCG@10 {_metric(row['ndcg@10'])}")


PER_USER_METRICS = ("ndcg@10", "hr@10", "recall@10", "precision@10", "mrr@10")


@click.command()
@click.argument("reference", metavar="REF")
@click.argument("other", metavar="OTHER")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="Domain to compare on.")
@loader_options()
@click.option("--domain", "domain_name", default=None, help="Domain name (default: the data's).")
@item_data_options()
@device_option
@seed_option("Seeds the ratio split and the bootstrap (default with REF's own split: the seed it was trained with).")
@split_option("Evaluation protocol of both (default: the one REF was trained on, else loo)", default=None)
@click.option("--stage", type=click.Choice(["valid", "test"]), default="test", show_default=True,
              help="Held-out part to compare on (choose a model on valid, report on test).")
@click.option("--metric", "metrics", multiple=True, type=click.Choice(PER_USER_METRICS), default=("ndcg@10", "hr@10"),
              show_default=True, help="Metric to compare (repeatable).")
@click.option("--samples", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True,
              help="Bootstrap resamples of the users.")
@registry_option
@json_option
def compare(reference: str, other: str, data_path: Path, data_format: str | None, loader_options: dict[str, Any],
            domain_name: str | None, item_vectors: tuple[Path, ...], feature_map: dict[str, str], device: str, seed: int,
            split: str | None, stage: str, metrics: tuple[str, ...], samples: int, registry_url: str | None,
            checkpoint_store: str | None, as_json: bool) -> None:
    """Compare checkpoint REF with OTHER on the same users of the same --split of --data: each
    metric's means, REF's relative gain, and its 95% interval from a paired bootstrap over users
    (both models' values of a user resampled together), so a gain comes with its uncertainty.
    """
    import numpy as np

    from recgraft.data.split import make_split, require_evaluated_users
    from recgraft.engine.device import resolve_device
    from recgraft.engine.evaluation import Stage
    from recgraft.engine.metrics import paired_bootstrap
    from recgraft.recommender import load_registered
    from recgraft.registry import Registry

    registry = Registry.open(url=registry_url, store=checkpoint_store, create=False)  # a read: never creates one
    records = [registry.resolve(reference), registry.resolve(other)]
    domain = read_domain(data_path, data_format, loader_options, item_vectors, domain_name)
    models = [load_registered(registry, record, resolve_device(device)).on_catalogue(domain, feature_map)
              for record in records]
    split, seed = _protocol(models[0], split, seed)  # REF's parts, so both are measured on the same users
    data = make_split(domain, split, seed)
    require_evaluated_users(data)
    ours, theirs = (model.evaluate(data, cast(Stage, stage), per_user=True)["per_user"] for model in models)
    comparisons = {}
    for metric in metrics:
        result = paired_bootstrap(np.asarray(ours[metric]), np.asarray(theirs[metric]), samples=samples, seed=seed)
        comparisons[metric] = {"ours": result.ours, "theirs": result.theirs, "gain": result.gain,
                               "low": result.low, "high": result.high, "significant": result.significant}
    payload = {"checkpoint": records[0].reference, "other": records[1].reference, "domain": domain.name,
               "split": data.spec, "stage": stage, "users": len(ours["users"]), "samples": samples,
               "metrics": comparisons}
    if as_json:
        echo_json(payload)
        return
    click.echo(f"{records[0].reference} against {records[1].reference} on {domain.name} ({data.spec}, {stage}): "
               f"{payload['users']:,} users")
    for metric, c in comparisons.items():
        if c["gain"] is None:
            click.echo(f"  {metric.upper():13} {c['ours']:.4f} against {c['theirs']:.4f}: no gain defined (OTHER scores 0)")
            continue
        verdict = "the interval excludes 0" if c["significant"] else "the interval includes 0: no measurable difference"
        click.echo(f"  {metric.upper():13} {c['ours']:.4f} against {c['theirs']:.4f}: {c['gain']:+.1%} "
                   f"(95% interval {c['low']:+.1%} to {c['high']:+.1%}; {verdict})")


def _protocol(model: Recommender, split: str | None, seed: int) -> tuple[str, int]:
    """The split and seed to evaluate ``model`` under: ``--split`` if given, else the checkpoint's
    own protocol, seeded as its training was unless ``--seed`` says otherwise."""
    if split is not None:
        return split, seed
    if click.get_current_context().get_parameter_source("seed") is ParameterSource.DEFAULT:
        seed = int(model.metadata.get("train", {}).get("seed", seed))
    return str(model.metadata.get("split", "loo")), seed


def _metric(value: float | None) -> str:
    """A metric as printed: four decimals, or ``-`` (as wide) when there is none."""
    return "-".ljust(6) if value is None else f"{value:.4f}"


commands = [evaluate, compare]

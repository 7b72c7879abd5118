"""``recgraft transfer``: graft a registered checkpoint onto a target domain, measure the gain over scratch.

The transferred model and, unless ``--no-baseline``, the ``scratch`` baseline (same
architecture, random start) train on the same split with the same seed; the relative gain
per test metric is reported, and a negative one is called what it is: negative transfer.

Under ``torchrun --nproc-per-node N -m recgraft transfer ...`` the N processes train together
(:mod:`recgraft.distributed`); rank 0 alone reads the source checkpoint (and sends it to
the others), prints, and registers once every process has finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recgraft.cli.options import (
    FiniteFloatRange,
    device_option,
    echo_json,
    epochs_option,
    item_data_options,
    json_option,
    loader_options,
    read_checkpoint,
    read_domain,
    registry_option,
    seed_option,
    split_option,
)


def _rounded(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()}


@click.command()
@click.option("--from", "reference", required=True, metavar="REF", help="Source checkpoint (NAME, NAME@N, NAME@ALIAS).")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="Target domain.")
@click.option("--strategy", "strategy_name", default=None, help="Transfer strategy (default from plugins.toml: finetune).")
@click.option("--head", "head_name", default=None, help="Head (default: dot).")
@click.option("--extractor", "extractor_name", default=None, help="Feature extractor (default: global).")
@click.option("--align-on", default=None, metavar="COLUMN",
              help="Align items by this item column (default: by token); none: every target item is new and only "
              "the encoder and its item features carry over.")
@click.option("--source-data", type=click.Path(path_type=Path), default=None,
              help="Source domain data: item columns for --align-on, windows for source_mix.")
@click.option("--train-fraction", type=FiniteFloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Train on this share of the target's training users (evaluation covers all).")
@loader_options()
@loader_options("source", "--source-data")
@click.option("--domain", "domain_name", default=None, help="Target domain name (default: the data's).")
@item_data_options()
@click.option("--name", default=None, help="Checkpoint name (default: DOMAIN-ENCODER-STRATEGY, then -EXTRACTOR and -HEAD when they are not global and dot).")
@epochs_option
@device_option
@seed_option("Seeds training, the --train-fraction users and the ratio split.")
@split_option("The target's evaluation protocol")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting: strategy.*, head.*, extractor.*, train.*, e.g. --set encoder_lr_scale=0.1.")
@click.option("--no-baseline", is_flag=True, help="Skip the scratch baseline.")
@registry_option
@json_option
def transfer(
    reference: str, data_path: Path, strategy_name: str | None, head_name: str | None,
    extractor_name: str | None, align_on: str | None, source_data: Path | None, train_fraction: float,
    data_format: str | None, loader_options: dict[str, Any], source_data_format: str | None,
    source_loader_options: dict[str, Any], domain_name: str | None, item_vectors: tuple[Path, ...],
    feature_map: dict[str, str], name: str | None, epochs: int | None, device: str,
    seed: int, split: str, overrides: tuple[str, ...], no_baseline: bool, registry_url: str | None,
    checkpoint_store: str | None, as_json: bool,
) -> None:
    """Transfer a pretrained checkpoint to a target domain, train it, and register the result."""
    from recgraft import distributed
    from recgraft.components import parse_model
    from recgraft.data.loader import load_domain
    from recgraft.data.split import keep_train_fraction, make_split
    from recgraft.engine.config import TrainConfig
    from recgraft.engine.progress import Progress
    from recgraft.plugin_manager import load_plugins
    from recgraft.registry import Registry
    from recgraft.registry.references import validate_name
    from recgraft.run_config import apply_overrides
    from recgraft.transfer import Transfer, compare_with_scratch
    from recgraft.transfer.baseline import HEADLINE

    system = load_plugins()
    defaults = system.settings.defaults
    strategy_name = strategy_name or defaults.strategy
    head_name = head_name or defaults.head
    extractor_name = extractor_name or defaults.extractor
    models = {
        "strategy": system.catalog.get("strategy", strategy_name).Config,
        "head": system.catalog.get("head", head_name).Config,
        "extractor": system.catalog.get("extractor", extractor_name).Config,
        "train": TrainConfig,
    }
    sections = apply_overrides({key: {} for key in models}, overrides, models)
    if epochs is not None:
        sections["train"]["epochs"] = epochs
    sections["train"].setdefault("seed", seed)
    train_config = parse_model("train config", TrainConfig, sections["train"])
    for kind, values in sections.items():  # fail on a bad setting before any work
        if kind != "train":
            system.catalog.config(kind, {"strategy": strategy_name, "head": head_name, "extractor": extractor_name}[kind], values)
    if name is not None:
        validate_name(name)

    with distributed.session(device):
        main = distributed.is_main_process()
        registry = distributed.on_main(lambda: Registry.open(url=registry_url, store=checkpoint_store, writable=True))  # fail before training

        source_reference, checkpoint = read_checkpoint(registry, reference)
        progress = Progress(enabled=main)  # on stderr, so --json output stays clean
        target = read_domain(data_path, data_format, loader_options, item_vectors, domain_name)
        source_domain = None if source_data is None else load_domain(
            source_data, format=source_data_format, **source_loader_options)
        target_split = make_split(target, split, train_config.seed)
        if train_fraction < 1.0:
            target_split = keep_train_fraction(target_split, train_fraction, seed)
        graft = Transfer.from_bytes(
            checkpoint, source_reference, strategy=strategy_name, extractor=extractor_name, head=head_name,
            strategy_config=sections["strategy"], extractor_config=sections["extractor"], head_config=sections["head"],
            align_on=align_on, feature_map=feature_map, source_domain=source_domain,
            checkpoints=lambda other: read_checkpoint(registry, other),
        )
        result = graft.fit(target_split, train_config, device=device, progress=progress)
        if result.alignment.note and main:
            click.echo(f"note: {result.alignment.note}", err=True)
        test = dict(result.evaluate("test", breakdown=True))
        by_length, by_item = test.pop("by_history_length"), test.pop("by_item")
        payload: dict[str, Any] = {
            "checkpoint": None,
            "source": source_reference,
            "strategy": strategy_name,
            "split": target_split.spec,
            "metrics": {"valid": _rounded(result.training.valid), "test": _rounded(test)},
            "zero_shot": {"valid": _rounded(result.training.zero_shot_valid)},
            "best_epoch": result.training.best_epoch,
            "epochs": result.training.epochs,
            **({"chosen_on_validation": result.training.chosen} if result.training.chosen else {}),
            "overlap": result.alignment.report(),
            "train_users": int(len(target_split.train_users)),
            "by_history_length": by_length,
            "by_item": by_item,
        }
        extra: dict[str, Any] = {"train_fraction": train_fraction}
        if not no_baseline:
            progress.log("training the scratch baseline on the same split")
            comparison = compare_with_scratch(result, progress)
            baseline = comparison.baseline
            payload["baseline"] = {"metrics": {"valid": _rounded(baseline.training.valid),
                                               "test": _rounded(comparison.baseline_test)},
                                   "best_epoch": baseline.training.best_epoch}
            payload["gain"] = comparison.gain
            payload["negative_transfer"] = list(comparison.negative)  # the headline metrics where scratch is better
            extra.update(baseline={"test": _rounded(comparison.baseline_test)}, gain=comparison.gain)
        distributed.all_finished()
        if not main:
            return  # the other processes are silent
        assert registry is not None
        saved = result.register(registry, name=name, extra=extra)
        payload["checkpoint"] = saved.reference
    if as_json:
        if payload.get("negative_transfer"):  # said on stderr too, where a script's log shows it
            progress.log(f"negative transfer: {strategy_name} is worse than training from scratch on test "
                         f"{' and '.join(k.upper() for k in payload['negative_transfer'])}")
        echo_json(payload)
        return
    overlap = payload["overlap"]
    click.echo(f"aligned {overlap['matched']:,} of {overlap['target_items']:,} target items by {overlap['on']} "
               f"({overlap['share']:.1%}); trained on {payload['train_users']:,} users")
    click.echo(f"registered {saved.reference} ({strategy_name} from {source_reference}): test NDCG@10 "
               f"{test['ndcg@10']:.4f}, HR@10 {test['hr@10']:.4f} (best epoch {result.training.best_epoch}; "
               f"zero-shot valid NDCG@10 {result.training.zero_shot_valid['ndcg@10']:.4f})")
    click.echo("test by held-out item: " + "; ".join(
        f"{row['items']} ({row['users']:,} users) NDCG@10 {row['ndcg@10']:.4f}" for row in by_item if row["users"]))
    if "gain" in payload:
        base = payload["baseline"]["metrics"]["test"]
        click.echo(f"scratch baseline: test NDCG@10 {base['ndcg@10']:.4f}, HR@10 {base['hr@10']:.4f}")
        parts = [f"{k.upper()} {comparison.gain[k]:+.1%}" for k in HEADLINE if comparison.gain.get(k) is not None]
        click.echo("gain over scratch: " + (", ".join(parts) or "undefined (the baseline scored 0)"))
        worse = [k.upper() for k in comparison.negative]
        if worse:
            click.echo(f"negative transfer: {strategy_name} is worse than training from scratch on test "
                       f"{' and '.join(worse)}")


commands = [transfer]

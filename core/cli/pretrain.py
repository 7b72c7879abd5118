"""``recgraft pretrain``: train an encoder on a domain and register the checkpoint.

With ``--from REF`` training continues from a registered checkpoint of the same items (a
longer run, a lower learning rate); the new record names REF as its parent, relation
``continued``.

Under ``torchrun --nproc-per-node N -m recgraft pretrain ...`` the N processes train together
(:mod:`recgraft.distributed`); rank 0 alone opens the registry, keeps the resume file,
prints, and registers once every process has finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from recgraft.cli.options import (
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
from recgraft.settings import recgraft_home

if TYPE_CHECKING:
    from recgraft.data.domain import Domain
    from recgraft.encoder import Encoder
    from recgraft.registry import Registry


def _resume_file(key: dict[str, object]) -> Path:
    """Where the run that ``key`` identifies keeps its resume state (one file per run)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return recgraft_home() / "runs" / f"pretrain-{digest}.pt"


def _continued_encoder(registry: Registry | None, reference: str, domain: Domain) -> tuple[str, str, Encoder]:
    """REF resolved, its encoder's plugin name and the encoder itself, which must know the domain's items."""
    from recgraft.checkpoint import from_bytes
    from recgraft.cli import UserError
    from recgraft.transfer import SourceModel

    parent, data = read_checkpoint(registry, reference)
    source = SourceModel.from_contents(from_bytes(data, parent), parent)
    if source.items != domain.items:
        raise UserError(
            f"{parent} was trained on other items ({len(source.items) - 1:,}, this data has {domain.num_items:,}); "
            "to use it on another domain, run recgraft transfer"
        )
    return parent, source.encoder_name, source.encoder


@click.command()
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="Domain to pretrain on.")
@click.option("--encoder", "encoder_name", default=None, help="Encoder name (default from plugins.toml: transformer).")
@loader_options()
@click.option("--domain", "domain_name", default=None, help="Domain name (default: the data's).")
@click.option("--item-features", "item_features", multiple=True, metavar="COLUMN[:KIND]",
              help="Item columns whose embeddings join the item ids (repeatable or comma-separated; kinds tokens, "
              "number, text, vectors, inferred when omitted), e.g. genre,release_year,movie_title.")
@item_data_options(feature_map=False)
@click.option("--name", default=None, help="Checkpoint name (default: DOMAIN-ENCODER).")
@epochs_option
@device_option
@seed_option("Seeds Python, numpy, torch and the ratio split.")
@split_option()
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML or JSON file with [encoder] and [train] tables.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one setting, e.g. --set num_layers=3 --set train.learning_rate=0.002.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run with the same data, settings and --name; when none "
              "was saved, a note on stderr says so and training starts from scratch.")
@click.option("--from", "from_reference", default=None, metavar="REF",
              help="Start from this checkpoint's weights (same items); only train.* settings may change.")
@registry_option
@json_option
def pretrain(
    data_path: Path, encoder_name: str | None, data_format: str | None, loader_options: dict[str, Any],
    domain_name: str | None, item_features: tuple[str, ...], item_vectors: tuple[Path, ...],
    name: str | None, epochs: int | None, device: str, seed: int, split: str, config_file: Path | None,
    overrides: tuple[str, ...], resume: bool, from_reference: str | None, registry_url: str | None,
    checkpoint_store: str | None, as_json: bool,
) -> None:
    """Pretrain an encoder with its own objective, evaluate it, and register the checkpoint."""
    from recgraft import distributed
    from recgraft.cli import UserError
    from recgraft.components import parse_model
    from recgraft.engine import resume as resume_state
    from recgraft.engine.config import TrainConfig
    from recgraft.engine.progress import Progress
    from recgraft.plugin_manager import load_plugins
    from recgraft.pretrain import pretrain as run_pretrain
    from recgraft.pretrain import with_pretraining_defaults
    from recgraft.registry import Registry
    from recgraft.registry.references import validate_name
    from recgraft.run_config import apply_overrides, read_config_file

    keys = [override.partition("=")[0] for override in overrides]
    if from_reference is not None and (encoder_name is not None or config_file is not None or item_features or not all(
            key.startswith("train.") or key in TrainConfig.model_fields for key in keys)):
        raise UserError(f"--from {from_reference} keeps that checkpoint's encoder and its settings; "
                        "only training settings (--set train.KEY=VALUE, --epochs, --seed) can change")
    system = load_plugins()
    encoder_name = encoder_name or system.settings.defaults.encoder
    encoder_cls = system.catalog.get("encoder", encoder_name)
    sections = read_config_file(config_file) if config_file else {"encoder": {}, "train": {}}
    sections = apply_overrides(sections, overrides, {"encoder": encoder_cls.Config, "train": TrainConfig})
    if epochs is not None:
        sections["train"]["epochs"] = epochs
    sections["train"].setdefault("seed", seed)
    if item_features:
        sections["encoder"]["item_features"] = [c for value in item_features for c in value.split(",") if c]
    encoder_config = system.catalog.config("encoder", encoder_name, sections["encoder"])
    train_config = parse_model("train config", TrainConfig, sections["train"])
    if name is not None:
        validate_name(name)

    with distributed.session(device):
        main = distributed.is_main_process()
        registry = distributed.on_main(lambda: Registry.open(url=registry_url, store=checkpoint_store, writable=True))  # fail before training
        started = time.perf_counter()
        domain = read_domain(data_path, data_format, loader_options, item_vectors, domain_name)
        encoder: str | Encoder = encoder_name
        parents: list[tuple[str, str]] = []
        if from_reference is not None:
            parent, encoder_name, encoder = _continued_encoder(registry, from_reference, domain)
            encoder_config, parents = encoder.config, [(parent, "continued")]
        train_config = with_pretraining_defaults(train_config, encoder)  # before the resume key: it names the rates
        resume_path = _resume_file({  # the same run with any number of processes; another name is another run
            "data": domain.fingerprint(), "domain": domain.name, "encoder": encoder_name, "from": parents,
            "config": encoder_config.model_dump(), "train": train_config.model_dump(),
            **({"split": split} if split != "loo" else {}),  # loo runs keep the files they had
            "name": name or f"{domain.name}-{encoder_name}", "registry": registry_url,  # the name it registers under
        })
        if main:
            try:
                resume_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create {resume_path.parent}: {exc.strerror or exc}") from None
        # Rank 0 holds the run from its first look at the resume file to the file's removal after
        # registering; when another live run holds it, every process stops.
        with contextlib.ExitStack() as held:
            distributed.on_main(lambda: held.enter_context(resume_state.claim(resume_path)))
            if main and not resume:
                resume_path.unlink(missing_ok=True)
            if main and resume and not resume_path.exists():
                click.echo("note: --resume: no interrupted run with this data and these settings was found; "
                           "training from scratch", err=True)
            trained = run_pretrain(
                domain, encoder, encoder_config, train_config, device=device,
                progress=Progress(enabled=main), resume=resume_path, split=split,
            )
            distributed.all_finished()
            if not main:
                return  # the other processes are silent
            assert registry is not None
            record = trained.register(registry, name=name, parents=parents)
            resume_path.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    payload = {
        "checkpoint": record.reference,
        "split": trained.split.spec,
        "metrics": trained.metrics,
        "epochs": trained.result.epochs,
        "best_epoch": trained.result.best_epoch,
        "seconds": round(seconds, 2),
    }
    if as_json:
        echo_json(payload)
        return
    test = trained.test
    click.echo(
        f"registered {record.reference}: test NDCG@10 {test['ndcg@10']:.4f}, HR@10 {test['hr@10']:.4f} "
        f"(best epoch {trained.result.best_epoch} of {trained.result.epochs}, {seconds:.1f}s)"
    )


commands = [pretrain]

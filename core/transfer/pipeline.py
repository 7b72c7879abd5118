"""The transfer pipeline: graft a pretrained encoder onto a target domain and train it there.

A transfer aligns the target's items with the source's (by token or an item column),
resizes the encoder's item tables to the target catalogue, builds the target model with the
strategy, and trains it with early stopping on the target's validation split, starting
from the zero-shot model. Components are given by registered name (plus config) or as
instances. The registered checkpoint holds every component's name and config, the target
item vocabulary and the alignment, so it can be used with nothing else; its lineage names
the source checkpoint with the strategy as relation.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recgraft import distributed
from recgraft.checkpoint import (
    CheckpointContents,
    CheckpointReader,
    from_bytes,
    registry_reader,
    text_columns,
    to_bytes,
    training_provenance,
)
from recgraft.checkpoint.modules import TRANSFER_KIND, encoder_from_checkpoint
from recgraft.components import parse_model
from recgraft.data.domain import Domain, Vocabulary
from recgraft.data.split import (
    Sequences,
    Split,
    SplitSpec,
    Stage,
    longest_history,
    require_evaluated_users,
    resolve_split,
    time_order,
)
from recgraft.encoder import Encoder
from recgraft.engine.batching import NextItemExamples, next_item_examples
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import precision_for, resolve_device, seed_everything, use_precision
from recgraft.engine.loop import TrainResult
from recgraft.engine.memory import check_memory
from recgraft.engine.progress import Progress
from recgraft.errors import ConfigError, RecgraftError
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head
from recgraft.plugin_manager import catalog, load_plugins
from recgraft.provenance import component_spec
from recgraft.recommender import binary_evaluation, recommend_items
from recgraft.registry.errors import RegistryError
from recgraft.strategy import PretrainedLoader, TransferContext, TransferStrategy
from recgraft.transfer.alignment import (
    NONE,
    TOKEN,
    ItemAlignment,
    align_items,
    item_column,
    no_alignment,
)
from recgraft.transfer.training import evaluate_model, fit_transfer
from recgraft.transfer_model import TransferModel

if TYPE_CHECKING:
    from recgraft.pretrain import PretrainedEncoder
    from recgraft.registry import CheckpointRecord, Registry

KIND = TRANSFER_KIND


@dataclass
class SourceModel:
    """A pretrained encoder with what alignment needs: its item vocabulary and item columns."""

    encoder: Encoder
    encoder_name: str
    items: Vocabulary
    item_features: dict[str, np.ndarray] = field(default_factory=dict)
    reference: str | None = None  # registry reference, for lineage
    domain: str | None = None

    @classmethod
    def from_contents(cls, contents: CheckpointContents, reference: str | None = None) -> SourceModel:
        """The encoder a checkpoint holds (a pretrained one, or the encoder of a transferred model)."""
        encoder = encoder_from_checkpoint(contents)
        spec = contents.metadata["components"]["encoder"]
        features = {k: np.asarray(v, dtype=object) for k, v in contents.metadata.get("item_features", {}).items()}
        return cls(encoder, spec["name"], contents.items, features, reference, contents.metadata.get("domain"))


def _component(kind: str, value: str | Any, config: Mapping[str, Any] | None, base: type) -> tuple[str, Any]:
    """(name, instance) of an extractor or strategy given by name (+ config) or as an instance."""
    if isinstance(value, base):
        if config:
            raise ConfigError(f"{kind}: a config is given with an instance; configure the instance instead")
        return catalog().name_of(kind, value), value
    return value, catalog().build(kind, value, config)


def source_windows(source: Domain, alignment: ItemAlignment, max_length: int) -> NextItemExamples:
    """The source domain's sequences as training windows over target item ids (unaligned items dropped)."""
    order = time_order(source)
    mapped = alignment.target_of_source()[source.item_ids[order]]
    users = source.user_ids[order]
    keep = mapped > 0
    sequences = Sequences.from_rows(users[keep], mapped[keep], len(source.users))
    return next_item_examples(sequences, np.arange(1, len(source.users)), max_length, True)


class Transfer:
    """A configured transfer: source model, strategy, extractor, head and item alignment."""

    def __init__(
        self,
        source: SourceModel,
        strategy: str | TransferStrategy | None = None,
        extractor: str | FeatureExtractor | None = None,
        head: str | Head | None = None,
        *,
        strategy_config: Mapping[str, Any] | None = None,
        extractor_config: Mapping[str, Any] | None = None,
        head_config: Mapping[str, Any] | None = None,
        align_on: str | None = None,
        feature_map: Mapping[str, str] | None = None,
        source_domain: Domain | None = None,
        checkpoints: CheckpointReader | None = None,
    ) -> None:
        defaults = load_plugins().settings.defaults
        self.source = source
        self.strategy_name, self.strategy = _component(
            "strategy", strategy or defaults.strategy, strategy_config, TransferStrategy)
        self.extractor_name, self.extractor = _component(
            "extractor", extractor or defaults.extractor, extractor_config, FeatureExtractor)
        head = head or defaults.head
        if isinstance(head, Head):
            if head_config:
                raise ConfigError("head: a config is given with an instance; configure the instance instead")
            self.head_name, self._head_instance = catalog().name_of("head", head), head
            self.head_config = head.config
        else:
            self.head_name, self._head_instance = head, None
            self.head_config = catalog().config("head", head, head_config)
        self.align_on = align_on or TOKEN
        #: feature column (as the source names it) -> the target's column, e.g. {"genre": "class"}
        self.feature_map = dict(feature_map or {})
        self.source_domain = source_domain
        self.checkpoints = checkpoints  # other checkpoints a strategy may ask for (a blend's partner)
        if self.strategy.source_mix() > 0 and source_domain is None:
            raise ConfigError(f"strategy '{self.strategy_name}': source_mix needs the source domain (source_domain=...)")

    # --- construction --------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, registry: Registry, reference: str, **options: Any) -> Transfer:
        """From a registered checkpoint (its resolved ``NAME@N`` is the lineage parent)."""
        options.setdefault("checkpoints", registry_reader(registry))
        resolved, data = options["checkpoints"](reference)
        return cls.from_bytes(data, resolved, **options)

    @classmethod
    def from_bytes(cls, data: bytes, reference: str | None = None, **options: Any) -> Transfer:
        """From checkpoint bytes (no registry)."""
        return cls(SourceModel.from_contents(from_bytes(data, reference), reference), **options)

    @classmethod
    def from_pretrained(cls, pretrained: PretrainedEncoder, reference: str | None = None, **options: Any) -> Transfer:
        """From a :class:`~recgraft.pretrain.PretrainedEncoder` in memory (its domain's item columns included)."""
        domain = pretrained.domain
        source = SourceModel(pretrained.encoder, pretrained.encoder_name, domain.items,
                             dict(domain.item_features), reference, domain.name)
        options.setdefault("source_domain", domain)
        return cls(source, **options)

    def with_strategy(self, strategy: str | TransferStrategy, strategy_config: Mapping[str, Any] | None = None) -> Transfer:
        """The same transfer with another strategy (e.g. ``"scratch"`` for the baseline)."""
        other = copy.copy(self)
        other.strategy_name, other.strategy = _component("strategy", strategy, strategy_config, TransferStrategy)
        return other

    # --- alignment -----------------------------------------------------------------------
    def align(self, target: Domain) -> ItemAlignment:
        """Which target items are source items (by token or by the ``align_on`` column).

        A source checkpoint that keeps no item columns at all (one pretrained before they were
        stored) and no source domain given: the items are aligned by token instead, and the
        alignment's ``note`` says so.
        """
        return _align(self.source, target, self.align_on, self.source_domain)

    def set_target_features(self, encoder: Encoder, target: Domain) -> None:
        """Give ``encoder`` (resized to the target catalogue) its items' feature inputs from the
        target's item columns, through :attr:`feature_map` (a no-op without item features)."""
        encoder.set_item_features(target.item_features, f"target domain {target.name!r}", self.feature_map)

    def _make_head(self, feature_dim: int, item_dim: int) -> Head:
        if self._head_instance is not None:
            return self._head_instance
        head: Head = catalog().build("head", self.head_name, self.head_config, feature_dim, item_dim)
        return head

    # --- training ------------------------------------------------------------------------
    def fit(
        self,
        target: Split | Domain,
        train: TrainConfig | Mapping[str, Any] | None = None,
        device: str | torch.device = "auto",
        progress: bool | Progress = False,
        split: str | SplitSpec | None = None,
    ) -> TransferResult:
        """Align, build and train the target model; epochs are chosen on the target's validation split.

        ``split`` names the protocol made from a target domain (``loo``, the default; see
        :func:`recgraft.data.split.parse_split`), with the train config's seed.
        """
        train_config = parse_model("train config", TrainConfig, train)
        data = resolve_split(target, split, train_config.seed)
        require_evaluated_users(data)
        torch_device = device if isinstance(device, torch.device) else resolve_device(device)
        check_memory(f"transfer of {self.source.encoder_name}", self.source.encoder.config, data.domain.num_items,
                     longest_history(data), train_config, torch_device)
        reporter = progress if isinstance(progress, Progress) else Progress(
            enabled=progress and distributed.is_main_process())
        seed_everything(train_config.seed)
        alignment = self.align(data.domain)
        if alignment.matched == 0 and not self.source.encoder.uses_item_features() and alignment.note is None:
            alignment = dataclasses.replace(alignment, note=(
                f"no target item is aligned with the source ({alignment.on}) and the source encoder has no item "
                "features: only its layers carry over, every item starts fresh (pretrain with --item-features, "
                "or align on a shared column)"))
        encoder = copy.deepcopy(self.source.encoder).to(torch_device)
        encoder.resize_items(data.domain.num_items, torch.from_numpy(alignment.source_rows).to(torch_device))
        self.set_target_features(encoder, data.domain)
        others: dict[str, dict[str, Any]] = {}
        loader = self._pretrained_loader(data.domain, others) if self.checkpoints is not None else None
        context = TransferContext(encoder, self.source.encoder_name, self.extractor, self._make_head,
                                  data.domain.num_items, loader)
        model = self.strategy.build(context)
        source_examples = None
        if self.strategy.source_mix() > 0 and self.source_domain is not None:
            source_examples = source_windows(self.source_domain, alignment, model.max_length)
        reporter.log(
            f"transfer ({self.strategy_name}) of {self.source.encoder_name} from "
            f"{self.source.reference or self.source.domain or 'memory'} to {data.domain.name}: "
            f"{alignment.matched:,} of {alignment.target_items:,} target items aligned by {alignment.on} "
            f"({alignment.share:.0%}); {len(data.train_users):,} training users; {torch_device}"
        )
        for other in others.values():
            reporter.log(f"the strategy also reads {other['reference']} ({other['encoder']['name']}"
                         f"{', its architecture only' if other['fresh'] else ''}): {other['alignment']['matched']:,} "
                         f"target items aligned")
        trained = fit_transfer(model, self.strategy, data, train_config, torch_device,
                               source_examples=source_examples, progress=reporter)
        return TransferResult(self, model, data, alignment, trained, train_config, torch_device, others)

    def _pretrained_loader(self, target: Domain, record: dict[str, dict[str, Any]]) -> PretrainedLoader:
        """What ``TransferContext.pretrained_encoder`` calls: reads another checkpoint, aligns its
        items to ``target`` like the source's, and notes in ``record`` what it handed out."""
        assert self.checkpoints is not None, "a loader needs a checkpoint reader"
        read = self.checkpoints

        def load(reference: str, fresh: bool) -> Encoder:
            try:
                resolved, data = read(reference)
                other = SourceModel.from_contents(from_bytes(data, resolved), resolved)
            except (RecgraftError, RegistryError) as error:  # the same error, saying who asked for what
                raise type(error)(f"strategy {self.strategy_name!r} reads {reference!r}: {error}") from error
            alignment = _align(other, target, self.align_on, None)
            if fresh:
                encoder = catalog().build("encoder", other.encoder_name, other.encoder.config.model_dump(),
                                          target.num_items)
            else:
                encoder = other.encoder
                encoder.resize_items(target.num_items, torch.from_numpy(alignment.source_rows))
            self.set_target_features(encoder, target)
            record[reference] = {"reference": resolved, "fresh": fresh, "alignment": alignment.report(),
                                 "encoder": component_spec("encoder", other.encoder_name, encoder.config.model_dump())}
            return encoder

        return load


def _align(source: SourceModel, target: Domain, align_on: str, source_domain: Domain | None) -> ItemAlignment:
    """See :meth:`Transfer.align`; also used for the other checkpoints a strategy reads."""
    if align_on == TOKEN:
        return align_items(source.items, target.items)
    if align_on == NONE:
        return no_alignment(source.items, target.items)
    target_keys = item_column(target.item_features, align_on, f"target domain {target.name!r}")
    if align_on in source.item_features:
        source_keys = source.item_features[align_on]
    elif source_domain is not None:
        source_keys = item_column(source_domain.item_features, align_on, f"source domain {source_domain.name!r}")
        if source_domain.items != source.items:
            raise ConfigError(f"align_on {align_on!r}: the source domain's items are not the checkpoint's")
    elif not source.item_features:
        alignment = align_items(source.items, target.items)
        note = (f"the source checkpoint keeps no item column {align_on!r}; aligned by token instead "
                "(give the source data to align on the column)")
        return dataclasses.replace(alignment, note=note)
    else:
        known = ", ".join(sorted(source.item_features))
        raise ConfigError(f"align_on {align_on!r}: the source checkpoint has no item column "
                          f"{align_on!r} (it has: {known}); give the source data or align by token")
    return align_items(source.items, target.items, align_on, source_keys=source_keys, target_keys=target_keys)


@dataclass
class TransferResult:
    """A trained target model with its split, alignment and training record."""

    transfer: Transfer
    model: TransferModel
    split: Split
    alignment: ItemAlignment
    training: TrainResult
    train_config: TrainConfig
    device: torch.device
    #: other checkpoints the strategy read (configured reference -> resolved one, architecture, alignment)
    pretrained: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def strategy(self) -> str:
        return self.transfer.strategy_name

    @property
    def domain(self) -> Domain:
        return self.split.domain

    @property
    def strategy_config(self) -> dict[str, object]:
        """The strategy's settings as trained: the configured ones, with any chosen on validation in place."""
        return {**self.transfer.strategy.describe(), **self.training.chosen}

    @property
    def metrics(self) -> dict[str, Any]:
        """Validation metrics of the chosen epoch, zero-shot validation, and any stage evaluated."""
        return {"valid": self.training.valid, "zero_shot_valid": self.training.zero_shot_valid,
                **{k: v for k, v in self.evaluations.items() if k != "valid"}}

    def evaluate(self, stage: Stage = "test", breakdown: bool = False, per_user: bool = False) -> dict[str, Any]:
        """Full-ranking HR/NDCG/MRR@5,10,20 (plus the history-length breakdown and, for binary
        heads, accuracy/precision/recall/F1/AUC) on ``stage``; ``per_user`` adds each user's
        metrics at 10 (``result["per_user"]``, for a paired test against another model)."""
        with use_precision(self.train_config.precision):
            result = evaluate_model(self.model, self.split, stage, self.device, self.train_config.eval_batch_size,
                                    breakdown, self.alignment.known_items(), per_user)
        if self.model.head.binary:
            result["binary"] = binary_evaluation(self.model.pair_logits, self.split, stage, self.model.max_length,
                                                 self.device, seed=self.train_config.seed)
        self.evaluations[stage] = result
        return result

    def recommend(self, history: Sequence[str], k: int = 10, strict: bool = False) -> list[tuple[str, float]]:
        """Top ``k`` target items (token, score) after a history of item tokens; history items excluded."""
        self.model.eval()
        return recommend_items(self.model.scorer(self.device), self.domain.items, self.model.max_length,
                               history, k, self.device, strict, self.model.padding_invariant)

    def to_bytes(self) -> bytes:
        """The checkpoint: the model's weights, every component's name and config, the target
        items and their text columns, the alignment and provenance."""
        t = self.transfer
        metadata = {
            "kind": KIND,
            "components": {
                "encoder": component_spec("encoder", t.source.encoder_name, self.model.encoder.config.model_dump()),
                "extractor": component_spec("extractor", t.extractor_name, t.extractor.describe()),
                "head": component_spec("head", t.head_name, self.model.head.config.model_dump()),
                "strategy": component_spec("strategy", t.strategy_name, self.strategy_config),
                **({"pretrained": self.pretrained} if self.pretrained else {}),
            },
            "domain": self.domain.name,
            "split": self.split.spec,
            "source": {"reference": t.source.reference, "domain": t.source.domain},
            "alignment": self.alignment.report(),
            "aligned_items": np.flatnonzero(self.alignment.known_items()).tolist(),  # target ids with a source row
            "train": self.train_config.model_dump(),
            "best_epoch": self.training.best_epoch,
            "item_features": text_columns(self.domain.item_features),
            **training_provenance(self.device, precision_for(self.device, self.train_config.precision)),
        }
        return to_bytes({"model": self.model}, metadata, self.domain.items)

    def register(self, registry: Registry, name: str | None = None, extra: Mapping[str, Any] | None = None) -> CheckpointRecord:
        """Store the checkpoint; lineage: parent = the source checkpoint, relation = the strategy.

        Under torchrun only rank 0 may register.
        """
        if not distributed.is_main_process():
            raise ConfigError("under torchrun only rank 0 registers (see recgraft.distributed.is_main_process)")
        t = self.transfer
        parents = [(t.source.reference, t.strategy_name)] if t.source.reference else []
        parents += [(other["reference"], t.strategy_name) for other in self.pretrained.values() if not other["fresh"]]
        return registry.register(
            name or default_name(self.domain.name, t.source.encoder_name, t.strategy_name, t.extractor_name,
                                 t.head_name),
            self.to_bytes(),
            domain=self.domain.name,
            encoder=t.source.encoder_name,
            encoder_config=self.model.encoder.config.model_dump(),
            strategy=t.strategy_name,
            metrics=_finite(self.metrics),
            dataset_fingerprint=self.domain.fingerprint(),
            **training_provenance(self.device, precision_for(self.device, self.train_config.precision)),
            parents=parents,
            extra={
                "split": self.split.spec,
                "extractor": t.extractor_name, "head": t.head_name, "strategy_config": self.strategy_config,
                **({"chosen_on_validation": self.training.chosen} if self.training.chosen else {}),
                "alignment": self.alignment.report(),
                **({"pretrained": self.pretrained} if self.pretrained else {}),
                "epochs": self.training.epochs, "best_epoch": self.training.best_epoch,
                "seconds": round(self.training.seconds, 2), "train_users": len(self.split.train_users),
                **({"processes": self.training.processes} if self.training.processes > 1 else {}),
                **dict(extra or {}),
            },
        )


def default_name(domain: str, encoder: str, strategy: str, extractor: str, head: str) -> str:
    """A transfer's default checkpoint name: ``DOMAIN-ENCODER-STRATEGY``, then the extractor and
    the head when they are not the built-in defaults (``global``, ``dot``), so that transfers with
    other heads or extractors get names of their own and the defaults' names stay as they were."""
    from recgraft.settings import Defaults

    builtin = Defaults()
    parts = [domain, encoder, strategy]
    parts += [name for name, default in ((extractor, builtin.extractor), (head, builtin.head)) if name != default]
    return "-".join(parts)


def _finite(value: Any) -> Any:
    """JSON-safe metrics: NaN (an undefined AUC) becomes None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value

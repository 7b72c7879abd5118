"""Each contract check of recgraft.testing fails on a component that breaks just that contract,
and passes on a correct toy component of every kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from recgraft.data.domain import Domain
from recgraft.data.loader import DatasetLoader
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.errors import DataError
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head, HeadConfig
from recgraft.strategy import TransferContext, TransferStrategy
from recgraft.testing import ContractViolation, checks
from recgraft.transfer_model import TransferModel

NUM_ITEMS = 20


class MeanEncoder(Encoder):
    """A correct toy encoder: the causal running mean of item embeddings, then a linear layer."""

    padding_invariant = True

    def __init__(self, config: EncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        self.item_embedding = nn.Embedding(num_items + 1, config.embedding_dim, padding_idx=0)
        self.linear = nn.Linear(config.embedding_dim, config.embedding_dim)

    def layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        embedded = self.item_embedding(history)
        present = (history > 0).unsqueeze(-1).float()
        mean = (embedded * present).cumsum(1) / present.cumsum(1).clamp(min=1)
        return {"embedding": embedded, "output": mean + self.linear(mean)}

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.layers(history)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return self.layers(history)["output"]

    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight


def encoder_of(cls: type[Encoder] = MeanEncoder) -> Encoder:
    torch.manual_seed(0)
    return cls(EncoderConfig(embedding_dim=8, max_length=12), NUM_ITEMS).eval()


HISTORY = checks.toy_history(NUM_ITEMS)


# --- every kind: class and Config ----------------------------------------------------


class NotAnEncoder(nn.Module):
    Config = EncoderConfig


class PlainConfigEncoder(MeanEncoder):
    class Config(BaseModel):  # type: ignore[no-redef]  # a plain BaseModel: --set would be ignored
        embedding_dim: int = 8


class LaxConfig(EncoderConfig):
    model_config = ConfigDict(extra="allow")


class BadDefaultConfig(EncoderConfig):
    window: int = Field(0, ge=1)


class RequiredFieldConfig(EncoderConfig):
    window: int


class NotJSONConfig(EncoderConfig):
    where: Path = Path("/tmp")
    tags: set[str] = Field(default_factory=lambda: {"a"})


def test_a_class_that_is_not_an_encoder_breaks_the_class_contract() -> None:
    with pytest.raises(ContractViolation, match="NotAnEncoder is not a subclass of recgraft.encoder.Encoder"):
        checks.check_component_class("encoder", NotAnEncoder)
    with pytest.raises(ContractViolation, match="a function, not a class"):
        checks.check_component_class("encoder", encoder_of)


def test_a_plain_basemodel_config_breaks_the_class_contract() -> None:
    with pytest.raises(ContractViolation, match="its Config is not a subclass of recgraft.encoder.EncoderConfig"):
        checks.check_component_class("encoder", PlainConfigEncoder)


def test_a_config_allowing_unknown_fields_breaks_its_contract() -> None:
    with pytest.raises(ContractViolation, match="Config refuses unknown fields: LaxConfig sets extra='allow'"):
        checks.check_config_forbids_unknown_fields(LaxConfig)


def test_a_default_breaking_its_own_constraint_breaks_the_defaults_contract() -> None:
    with pytest.raises(ContractViolation, match="breaks its own constraint: window: Input should be greater"):
        checks.check_config_defaults_are_valid(BadDefaultConfig)
    with pytest.raises(ContractViolation, match="needs settings: window"):
        checks.check_config_defaults_are_valid(RequiredFieldConfig)


def test_a_config_that_is_not_json_breaks_the_round_trip_contract() -> None:
    with pytest.raises(ContractViolation, match="Config round-trips through JSON"):
        checks.check_config_round_trips_through_json(NotJSONConfig)


def test_a_correct_component_passes_every_config_check() -> None:
    checks.check_config("encoder", MeanEncoder, {"embedding_dim": 8})


# --- encoders -----------------------------------------------------------------------


class WrongWidthEncoder(MeanEncoder):
    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return torch.cat([super().forward(history), super().forward(history)], dim=1)


class MeanForwardEncoder(MeanEncoder):
    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self.sequence_output(history).mean(1)


class PeekingEncoder(MeanEncoder):
    """Every position sees the whole history (not causal)."""

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        output = self.layers(history)["output"]
        return output + output[:, -1:]


class RenamedOutputEncoder(MeanEncoder):
    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = super().hidden_layers(history)
        return {"embedding": layers["embedding"], "final": layers["output"]}


class OneLayerEncoder(MeanEncoder):
    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"output": super().hidden_layers(history)["output"]}


class PaddingCountingEncoder(MeanEncoder):
    """Claims padding invariance but its output depends on the history length."""

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        return super().sequence_output(history) * history.shape[1]

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = super().hidden_layers(history)
        return {**layers, "output": layers["output"] * history.shape[1]}


class ForgetfulItemsEncoder(MeanEncoder):
    """A second item-indexed table that item_parameters() leaves out: alignment skips it."""

    def item_parameters(self) -> list[nn.Parameter]:
        return [self.linear.weight]


class NoResizeEncoder(MeanEncoder):
    def resize_items(self, num_items: int, source_rows: torch.Tensor) -> None:
        self.num_items = num_items


class FrozenEncoder(MeanEncoder):
    """Never learns: its outputs do not depend on any parameter that trains."""

    def layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: value.detach() for name, value in super().layers(history).items()}

    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight.detach()

    def item_parameters(self) -> list[nn.Parameter]:
        return [self.item_embedding.weight]


class UnseededEncoder(MeanEncoder):
    """Draws a weight from its own generator, which torch.manual_seed does not reset."""

    generator = torch.Generator().manual_seed(0)

    def __init__(self, config: EncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        with torch.no_grad():
            self.linear.bias.copy_(torch.randn(config.embedding_dim, generator=self.generator))


def test_an_output_of_the_wrong_width_breaks_the_shape_contract() -> None:
    with pytest.raises(ContractViolation, match=r"encoder shapes: forward gave \(4, 16\)"):
        checks.check_encoder_shapes(encoder_of(WrongWidthEncoder), HISTORY)


def test_a_forward_other_than_the_last_position_breaks_its_contract() -> None:
    with pytest.raises(ContractViolation, match="forward is the last sequence output"):
        checks.check_forward_is_last_sequence_output(encoder_of(MeanForwardEncoder), HISTORY)


def test_an_encoder_that_peeks_at_later_items_breaks_causality() -> None:
    with pytest.raises(ContractViolation, match="sequence outputs are causal: an earlier position changed"):
        checks.check_causal(encoder_of(PeekingEncoder), HISTORY)


def test_a_last_layer_not_named_output_breaks_the_layer_contract() -> None:
    with pytest.raises(ContractViolation, match="the last layer must be named 'output'"):
        checks.check_hidden_layers(encoder_of(RenamedOutputEncoder), HISTORY)
    with pytest.raises(ContractViolation, match="name at least 2 layers"):
        checks.check_hidden_layers(encoder_of(OneLayerEncoder), HISTORY)


def test_a_false_padding_invariance_claim_breaks_its_contract() -> None:
    with pytest.raises(ContractViolation, match="padding_invariant: forward changed with extra left padding"):
        checks.check_padding_invariance(encoder_of(PaddingCountingEncoder), HISTORY)


def test_item_parameters_not_indexed_by_item_break_their_contract() -> None:
    with pytest.raises(ContractViolation, match="item_parameters: a parameter of shape \\(8, 8\\)"):
        checks.check_item_parameters(encoder_of(ForgetfulItemsEncoder))


def test_a_resize_that_keeps_the_old_table_breaks_its_contract() -> None:
    with pytest.raises(ContractViolation, match="resize_items: after resizing to 30 items"):
        checks.check_resize_items(encoder_of(NoResizeEncoder))


def test_an_encoder_that_cannot_learn_breaks_the_learning_contract() -> None:
    with pytest.raises((ContractViolation, RuntimeError)):
        checks.check_learns(encoder_of(FrozenEncoder), NUM_ITEMS)


def test_an_encoder_ignoring_the_seed_breaks_the_seed_contract() -> None:
    with pytest.raises(ContractViolation, match="the same seed builds the same encoder: linear.bias differs"):
        checks.check_same_seed_same_encoder(lambda: UnseededEncoder(EncoderConfig(embedding_dim=8), NUM_ITEMS))


def test_a_correct_encoder_passes_every_encoder_check() -> None:
    encoder = encoder_of()
    for check in (checks.check_encoder_shapes, checks.check_forward_is_last_sequence_output, checks.check_causal,
                  checks.check_hidden_layers, checks.check_padding_invariance):
        check(encoder, HISTORY)
    checks.check_item_parameters(encoder)
    checks.check_learns(encoder_of().train(), NUM_ITEMS)
    checks.check_same_seed_same_encoder(encoder_of)
    checks.check_resize_items(encoder)


# --- extractors ----------------------------------------------------------------------


class LastItemExtractor(FeatureExtractor):
    """A correct toy extractor: the output layer at the last position."""

    def output_dim(self, encoder: Encoder) -> int:
        return encoder.output_dim

    def extract(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor:
        return encoder(history)

    def extract_sequence(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor | None:
        return encoder.sequence_output(history)


class WrongDimExtractor(LastItemExtractor):
    def output_dim(self, encoder: Encoder) -> int:
        return encoder.output_dim + 1


class MismatchedSequenceExtractor(LastItemExtractor):
    def extract_sequence(self, encoder: Encoder, history: torch.Tensor) -> torch.Tensor | None:
        return encoder.hidden_layers(history)["embedding"]


class BadDescribeExtractor(LastItemExtractor):
    def describe(self) -> dict[str, object]:
        return {"layers": ["x"]}


def test_extractor_checks_fail_on_broken_extractors_and_pass_a_correct_one() -> None:
    encoder = encoder_of()
    checks.check_extractor(LastItemExtractor(), encoder, HISTORY)
    with pytest.raises(ContractViolation, match="output_dim says"):
        checks.check_extractor(WrongDimExtractor(), encoder, HISTORY)
    with pytest.raises(ContractViolation, match="last position is not extract's features"):
        checks.check_extractor(MismatchedSequenceExtractor(), encoder, HISTORY)
    with pytest.raises(ContractViolation, match="describe\\(\\) is not the config as JSON"):
        checks.check_extractor(BadDescribeExtractor(), encoder, HISTORY)


# --- heads ---------------------------------------------------------------------------


class ProjectHead(Head):
    """A correct toy head: a linear map into the item space."""

    def __init__(self, config: HeadConfig, feature_dim: int, item_dim: int) -> None:
        super().__init__(config, feature_dim, item_dim)
        self.project = nn.Linear(feature_dim, item_dim)

    def user_vectors(self, features: torch.Tensor) -> torch.Tensor:
        return self.project(features)


class SameSizeHead(Head):
    """Assumes feature_dim == item_dim (breaks with the concat extractor)."""

    def user_vectors(self, features: torch.Tensor) -> torch.Tensor:
        return features


class InconsistentPairsHead(ProjectHead):
    def pair_logits(self, features: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return super().pair_logits(features, items) + 1.0


class DetachedLossHead(ProjectHead):
    def loss(self, features, targets, items, bias, generator=None) -> torch.Tensor:
        return super().loss(features, targets, items, bias, generator).detach().requires_grad_()


def make(head_cls: type[Head]) -> Any:
    return lambda feature_dim, item_dim: head_cls(HeadConfig(), feature_dim, item_dim)


def test_head_checks_fail_on_broken_heads_and_pass_a_correct_one() -> None:
    checks.check_head(make(ProjectHead))
    with pytest.raises((ContractViolation, RuntimeError)):
        checks.check_head(make(SameSizeHead))
    with pytest.raises(ContractViolation, match="pair_logits disagrees with forward"):
        checks.check_head(make(InconsistentPairsHead))
    with pytest.raises(ContractViolation, match="gradient reaches none of the head's parameters"):
        checks.check_head(make(DetachedLossHead))
    with pytest.raises(ContractViolation, match="not a recgraft.head.Head"):
        checks.check_head(lambda f, i: nn.Linear(f, i))  # type: ignore[arg-type,return-value]


# --- strategies ----------------------------------------------------------------------


def context() -> TransferContext:
    encoder = encoder_of()
    return TransferContext(encoder, "mean", LastItemExtractor(), make(ProjectHead), NUM_ITEMS)


class DirectToy(TransferStrategy):
    """A correct toy strategy: the encoder frozen, the head trained."""

    def build(self, context: TransferContext) -> TransferModel:
        head = context.make_head(context.extractor.output_dim(context.encoder), context.encoder.output_dim)
        return TransferModel(context.encoder, context.extractor, head, freeze_encoder=True)


class ModuleStrategy(TransferStrategy):
    def build(self, context: TransferContext) -> TransferModel:
        return context.encoder  # type: ignore[return-value]


class UngroupedStrategy(DirectToy):
    def parameter_groups(self, model: TransferModel, learning_rate: float) -> list[dict[str, Any]]:
        return [{"params": list(model.head.parameters()), "lr": learning_rate, "name": "head"}]


class TwiceGroupedStrategy(DirectToy):
    def parameter_groups(self, model: TransferModel, learning_rate: float) -> list[dict[str, Any]]:
        params = [p for p in model.parameters() if p.requires_grad]
        return [{"params": params, "lr": learning_rate, "name": "a"}, {"params": params[:1], "lr": 1.0, "name": "b"}]


class UnknownScheduleStrategy(DirectToy):
    def learning_rate_scales(self, epoch: int) -> dict[str, float]:
        return {"encodr": 0.0}


def test_strategy_checks_fail_on_broken_strategies_and_pass_a_correct_one() -> None:
    checks.check_strategy(DirectToy(), context, HISTORY)
    with pytest.raises(ContractViolation, match="not a recgraft.transfer_model.TransferModel"):
        checks.check_strategy(ModuleStrategy(), context, HISTORY)
    with pytest.raises(ContractViolation, match="trainable parameters in no group"):
        checks.check_strategy(UngroupedStrategy(), context, HISTORY)
    with pytest.raises(ContractViolation, match="a parameter is in groups 'a' and 'b'"):
        checks.check_strategy(TwiceGroupedStrategy(), context, HISTORY)
    with pytest.raises(ContractViolation, match="names no group: \\['encodr'\\]"):
        checks.check_strategy(UnknownScheduleStrategy(), context, HISTORY)


# --- dataset loaders -----------------------------------------------------------------


class PairsLoader(DatasetLoader):
    """A correct toy loader: ``.pairs`` files of ``user item`` lines."""

    @classmethod
    def detect(cls, path: Path) -> bool:
        return path.suffix == ".pairs" and path.is_file()

    def load(self, path: Path, name: str | None = None) -> Domain:
        from recgraft.data.domain import domain_from_tokens

        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        if not rows or any(len(row) != 2 for row in rows):
            raise DataError(f"{path}: expected 'user item' lines")
        users, items = zip(*rows, strict=True)
        return domain_from_tokens(name or path.stem, np.array(users, dtype=object), np.array(items, dtype=object))


class RaisingDetectLoader(PairsLoader):
    @classmethod
    def detect(cls, path: Path) -> bool:
        return path.read_text().startswith("u")


class ListLoader(PairsLoader):
    def load(self, path: Path, name: str | None = None) -> Domain:
        return path.read_text().split()  # type: ignore[return-value]


class CrashingLoader(PairsLoader):
    def load(self, path: Path, name: str | None = None) -> Domain:
        users, items = zip(*(line.split() for line in path.read_text().splitlines()), strict=True)
        return super().load(path, name)


def test_dataset_checks_fail_on_broken_loaders_and_pass_a_correct_one(tmp_path: Path) -> None:
    sample = tmp_path / "a.pairs"
    sample.write_text("u1 i1\nu1 i2\nu2 i1\n")
    empty = tmp_path / "empty.pairs"
    empty.write_text("")
    checks.check_detect_never_raises(PairsLoader, [tmp_path / "missing", tmp_path, sample])
    checks.check_loads(PairsLoader(), sample)
    checks.check_malformed_is_data_error(PairsLoader(), empty)
    with pytest.raises(ContractViolation, match="detect never raises: detect.*raised"):
        checks.check_detect_never_raises(RaisingDetectLoader, [tmp_path / "missing"])
    with pytest.raises(ContractViolation, match="load\\(\\) returned a list, not a recgraft.data.domain.Domain"):
        checks.check_loads(ListLoader(), sample)
    with pytest.raises(ContractViolation, match="malformed data is a DataError: .*raised ValueError"):
        checks.check_malformed_is_data_error(CrashingLoader(), empty)

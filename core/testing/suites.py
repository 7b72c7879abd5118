"""pytest suites of the component contracts: subclass one in a test module and name the component.

    from recgraft.testing import EncoderContract

    class TestBagEncoder(EncoderContract):
        component = "bag"                     # a registered name, or the class itself
        config = {"embedding_dim": 16}        # toy-sized settings for the tests

Each test method checks one contract through :mod:`recgraft.testing.checks`, so a failure
names the rule that is broken. The built-in components run these same suites.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from recgraft.components import validate_config
from recgraft.encoder import Encoder
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head
from recgraft.strategy import TransferContext
from recgraft.testing import checks

#: Toy-sized settings of the built-in encoders, for suites that need an encoder to work on.
TOY_ENCODERS: dict[str, dict[str, Any]] = {
    "transformer": {"embedding_dim": 16, "num_heads": 2, "max_length": 12},
    "lstm": {"embedding_dim": 16, "hidden_dim": 24, "max_length": 12},
    "gan": {"embedding_dim": 16, "hidden_dim": 24, "max_length": 12},
}


class ComponentContract:
    """The rules every component meets: its class and its Config."""

    kind: ClassVar[str]
    #: The component under test: its registered name, or the class itself.
    component: ClassVar[str | type]
    #: Settings used to build it in the tests (validated against its Config).
    config: ClassVar[dict[str, Any]] = {}

    @classmethod
    def component_name(cls) -> str:
        return cls.component if isinstance(cls.component, str) else cls.component.__name__

    @classmethod
    def component_class(cls) -> Any:
        if isinstance(cls.component, str):
            from recgraft.plugin_manager import catalog

            return catalog().get(cls.kind, cls.component)
        return cls.component

    def make_config(self) -> Any:
        return validate_config(self.kind, self.component_name(), self.component_class(), self.config)

    def test_is_a_subclass_of_its_kind_base_class_with_a_config(self) -> None:
        checks.check_component_class(self.kind, self.component_class())

    def test_config_refuses_unknown_fields(self) -> None:
        checks.check_config_forbids_unknown_fields(self.component_class().Config)

    def test_config_defaults_are_valid(self) -> None:
        checks.check_config_defaults_are_valid(self.component_class().Config)

    def test_config_round_trips_through_json(self) -> None:
        checks.check_config_round_trips_through_json(self.component_class().Config, self.config)


class EncoderContract(ComponentContract):
    """The encoder contract (see docs/plugins.md, "Encoder")."""

    kind = "encoder"
    num_items: ClassVar[int] = 30
    #: History length of the test batches (cut to the config's max_length).
    length: ClassVar[int] = 12

    def build(self) -> Encoder:
        encoder: Encoder = self.component_class()(self.make_config(), self.num_items)
        return encoder

    @pytest.fixture
    def encoder(self) -> Encoder:
        torch.manual_seed(0)
        return self.build().eval()

    @pytest.fixture
    def history(self, encoder: Encoder) -> torch.Tensor:
        return checks.toy_history(self.num_items, length=min(self.length, int(encoder.config.max_length)))

    def test_shapes(self, encoder: Encoder, history: torch.Tensor) -> None:
        checks.check_encoder_shapes(encoder, history)

    def test_forward_is_the_last_sequence_output(self, encoder: Encoder, history: torch.Tensor) -> None:
        checks.check_forward_is_last_sequence_output(encoder, history)

    def test_later_items_never_change_earlier_outputs(self, encoder: Encoder, history: torch.Tensor) -> None:
        checks.check_causal(encoder, history)

    def test_hidden_layers_end_with_output(self, encoder: Encoder, history: torch.Tensor) -> None:
        checks.check_hidden_layers(encoder, history)

    def test_padding_invariance_when_claimed(self, encoder: Encoder, history: torch.Tensor) -> None:
        if not encoder.padding_invariant:
            pytest.skip(f"{self.component_name()} does not claim padding_invariant")
        checks.check_padding_invariance(encoder, history)

    def test_item_parameters_are_indexed_by_item(self, encoder: Encoder) -> None:
        checks.check_item_parameters(encoder)

    def test_resize_items_keeps_mapped_rows(self, encoder: Encoder) -> None:
        checks.check_resize_items(encoder)

    def test_a_few_steps_reduce_the_loss(self) -> None:
        torch.manual_seed(0)
        checks.check_learns(self.build(), self.num_items)

    def test_the_same_seed_builds_the_same_encoder(self) -> None:
        checks.check_same_seed_same_encoder(self.build)


class _NeedsEncoders:
    """Suites that read encoders: each built-in (toy-sized) by default."""

    encoders: ClassVar[dict[str, dict[str, Any]]] = TOY_ENCODERS
    num_items: ClassVar[int] = 30

    def built_encoders(self) -> list[Encoder]:
        from recgraft.plugin_manager import catalog

        torch.manual_seed(0)
        return [catalog().build("encoder", name, config, self.num_items).eval() for name, config in self.encoders.items()]


class ExtractorContract(ComponentContract, _NeedsEncoders):
    """The feature-extractor contract (see docs/plugins.md, "FeatureExtractor")."""

    kind = "extractor"

    def build(self) -> FeatureExtractor:
        extractor: FeatureExtractor = self.component_class()(self.make_config())
        return extractor

    def test_features_match_output_dim_and_sequences_end_with_them(self) -> None:
        for encoder in self.built_encoders():
            checks.check_extractor(self.build(), encoder, checks.toy_history(self.num_items))


class HeadContract(ComponentContract):
    """The head contract (see docs/plugins.md, "Head")."""

    kind = "head"

    def make_head(self, feature_dim: int, item_dim: int) -> Head:
        head: Head = self.component_class()(self.make_config(), feature_dim, item_dim)
        return head

    def test_scores_the_catalogue_and_pairs_and_trains(self) -> None:
        torch.manual_seed(0)
        checks.check_head(self.make_head)


class StrategyContract(ComponentContract, _NeedsEncoders):
    """The transfer-strategy contract (see docs/plugins.md, "TransferStrategy")."""

    kind = "strategy"
    extractor: ClassVar[str] = "global"
    head: ClassVar[str] = "dot"

    def context(self, encoder_name: str, encoder_config: dict[str, Any]) -> TransferContext:
        from recgraft.plugin_manager import catalog

        torch.manual_seed(0)
        encoder = catalog().build("encoder", encoder_name, encoder_config, self.num_items)
        extractor = catalog().build("extractor", self.extractor)
        head_config = catalog().config("head", self.head)

        def make_head(feature_dim: int, item_dim: int) -> Head:
            head: Head = catalog().build("head", self.head, head_config, feature_dim, item_dim)
            return head

        return TransferContext(encoder, encoder_name, extractor, make_head, self.num_items)

    def test_builds_a_transfer_model_and_groups_its_parameters(self) -> None:
        for name, config in self.encoders.items():
            strategy = self.component_class()(self.make_config())
            checks.check_strategy(strategy, lambda n=name, c=config: self.context(n, c),
                                  checks.toy_history(self.num_items))


class ItemFeatureContract(ComponentContract):
    """The item-feature contract (see docs/plugins.md, "ItemFeature"): set ``values``, a sample
    column (one value per item id, the pad first) of the kind the feature reads."""

    kind = "item_feature"
    values: ClassVar[Any] = None

    def test_fits_embeds_and_rebuilds_from_its_state(self) -> None:
        import numpy as np

        if self.values is None:
            raise NotImplementedError(f"{type(self).__name__} must set values (a sample column, pad first)")
        checks.check_item_feature(self.component_class(), self.make_config(), np.asarray(self.values))


class DatasetContract(ComponentContract):
    """The dataset-loader contract (see docs/plugins.md, "DatasetLoader").

    A subclass implements :meth:`write_sample`, and may override :meth:`write_malformed`.
    """

    kind = "dataset"

    def write_sample(self, folder: Path) -> Path:
        """Write a small valid input into ``folder``; return the path users would pass."""
        raise NotImplementedError(f"{type(self).__name__} must implement write_sample(folder)")

    def write_malformed(self, folder: Path) -> Path:
        """Malformed input the loader must refuse; by default the sample with every file emptied."""
        sample = self.write_sample(folder / "sample")
        broken = folder / "malformed" / sample.name
        if sample.is_dir():
            shutil.copytree(sample, broken)
            for path in broken.rglob("*"):
                if path.is_file():
                    path.write_bytes(b"")
        else:
            broken.parent.mkdir(parents=True)
            broken.write_bytes(b"")
        return broken

    def build(self) -> Any:
        return self.component_class()(self.make_config())

    def test_detect_never_raises(self, tmp_path: Path) -> None:
        empty = tmp_path / "empty"
        empty.mkdir()
        binary = tmp_path / "data.bin"
        binary.write_bytes(bytes(range(256)))
        checks.check_detect_never_raises(self.component_class(), [tmp_path / "missing", empty, binary])

    def test_loads_its_sample(self, tmp_path: Path) -> None:
        checks.check_loads(self.build(), self.write_sample(tmp_path))

    def test_malformed_input_is_a_data_error(self, tmp_path: Path) -> None:
        checks.check_malformed_is_data_error(self.build(), self.write_malformed(tmp_path))

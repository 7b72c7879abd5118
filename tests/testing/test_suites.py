"""The shipped suites wire each test to its check: a suite subclass naming a broken toy
component fails the test of the contract it breaks, and passes the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from recgraft.testing import (
    ContractViolation,
    DatasetContract,
    EncoderContract,
    ExtractorContract,
    HeadContract,
    StrategyContract,
    checks,
)

from .test_checks import (
    NUM_ITEMS,
    BadDefaultConfig,
    CrashingLoader,
    InconsistentPairsHead,
    MeanEncoder,
    MismatchedSequenceExtractor,
    ModuleStrategy,
    NotAnEncoder,
    PairsLoader,
    PeekingEncoder,
    RenamedOutputEncoder,
)

TOY = {"embedding_dim": 8, "max_length": 12}


def history():
    return checks.toy_history(NUM_ITEMS)


def suite(base: type, component: type, **attributes) -> object:
    return type("TestSuite", (base,), {"component": component, "num_items": NUM_ITEMS, **attributes})()


def test_the_encoder_suite_fails_the_broken_contract_and_passes_the_rest() -> None:
    good = suite(EncoderContract, MeanEncoder, config=TOY)
    good.test_hidden_layers_end_with_output(good.build().eval(), history())
    good.test_later_items_never_change_earlier_outputs(good.build().eval(), history())
    broken = suite(EncoderContract, RenamedOutputEncoder, config=TOY)
    with pytest.raises(ContractViolation, match="the last layer must be named 'output'"):
        broken.test_hidden_layers_end_with_output(broken.build().eval(), history())
    broken.test_later_items_never_change_earlier_outputs(broken.build().eval(), history())
    peeking = suite(EncoderContract, PeekingEncoder, config=TOY)
    with pytest.raises(ContractViolation, match="causal"):
        peeking.test_later_items_never_change_earlier_outputs(peeking.build().eval(), history())


def test_the_class_and_config_tests_fail_on_a_non_component_and_a_bad_default() -> None:
    with pytest.raises(ContractViolation, match="not a subclass of recgraft.encoder.Encoder"):
        suite(EncoderContract, NotAnEncoder).test_is_a_subclass_of_its_kind_base_class_with_a_config()
    bad_default = type("BadDefaultEncoder", (MeanEncoder,), {"Config": BadDefaultConfig})
    with pytest.raises(ContractViolation, match="breaks its own constraint"):
        suite(EncoderContract, bad_default).test_config_defaults_are_valid()


def test_the_extractor_suite_fails_a_broken_extractor() -> None:
    suite(ExtractorContract, MismatchedSequenceExtractor, encoders={}).test_features_match_output_dim_and_sequences_end_with_them()
    broken = suite(ExtractorContract, MismatchedSequenceExtractor, encoders={"lstm": {"embedding_dim": 8, "max_length": 12}})
    with pytest.raises(ContractViolation, match="last position is not extract's features"):
        broken.test_features_match_output_dim_and_sequences_end_with_them()


def test_the_head_suite_fails_a_broken_head() -> None:
    with pytest.raises(ContractViolation, match="pair_logits disagrees with forward"):
        suite(HeadContract, InconsistentPairsHead).test_scores_the_catalogue_and_pairs_and_trains()


def test_the_strategy_suite_fails_a_broken_strategy() -> None:
    broken = suite(StrategyContract, ModuleStrategy, encoders={"lstm": {"embedding_dim": 8, "max_length": 12}})
    with pytest.raises(ContractViolation, match="not a recgraft.transfer_model.TransferModel"):
        broken.test_builds_a_transfer_model_and_groups_its_parameters()


class PairsSample:
    def write_sample(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "a.pairs").write_text("u1 i1\nu2 i1\n")
        return folder / "a.pairs"


def test_the_dataset_suite_fails_a_loader_whose_bad_input_is_a_traceback(tmp_path: Path) -> None:
    good = type("TestGood", (PairsSample, DatasetContract), {"component": PairsLoader})()
    good.test_loads_its_sample(tmp_path / "good")
    good.test_malformed_input_is_a_data_error(tmp_path / "good-malformed")
    broken = type("TestBroken", (PairsSample, DatasetContract), {"component": CrashingLoader})()
    with pytest.raises(ContractViolation, match="malformed data is a DataError"):
        broken.test_malformed_input_is_a_data_error(tmp_path / "broken")

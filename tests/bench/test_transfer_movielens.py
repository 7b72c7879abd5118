"""The transfer benchmark's bookkeeping: which variant is reported, against which baseline."""

from __future__ import annotations

from types import ModuleType
from typing import Any

SCRIPT = "transfer_movielens"  # the bench fixture (conftest.py) loads bench/transfer_movielens.py


def run(strategy: str, seed: int, valid: float, test: float, fraction: float = 0.25) -> dict[str, Any]:
    return {"encoder": "transformer", "strategy": strategy, "fraction": fraction, "seed": seed,
            "valid": {"ndcg@10": valid}, "test": {"ndcg@10": test, "hr@10": 2 * test}, "settings": {}}


def test_the_reported_variant_is_chosen_on_validation_not_test(bench: ModuleType) -> None:
    rows = [run("finetune", s, valid=0.10, test=0.20) for s in range(3)]
    rows += [run("finetune:encoder_lr_scale=0.1", s, valid=0.11, test=0.05) for s in range(3)]
    assert bench.chosen_variants(rows) == {("transformer", 0.25): "finetune:encoder_lr_scale=0.1"}


def test_variants_missing_a_seed_are_left_out_of_the_choice(bench: ModuleType) -> None:
    rows = [run("finetune", s, valid=0.10, test=0.10) for s in range(3)]
    rows += [run("finetune:freeze=[]", 0, valid=0.50, test=0.50)]
    assert bench.chosen_variants(rows) == {("transformer", 0.25): "finetune"}


def test_the_baseline_is_the_scratch_variant_best_on_validation(bench: ModuleType) -> None:
    rows = [run("scratch", s, valid=0.08, test=0.08) for s in range(3)]
    rows += [run("scratch:train.batch_size=128", s, valid=0.09, test=0.10) for s in range(3)]
    rows += [run("finetune", s, valid=0.12, test=0.12) for s in range(3)]
    assert bench.chosen_baselines(rows) == {("transformer", 0.25): "scratch:train.batch_size=128"}
    chosen = next(line for line in bench.summarize(rows).splitlines() if line.startswith("| transformer | 0.25 | finetune | 0.12"))
    assert "| 0.1000 | +20.0% |" in chosen  # measured against the tuned scratch, not the plain one


def test_a_variant_label_splits_into_strategy_and_settings(bench: ModuleType) -> None:
    name, settings = bench.parse_variant("scratch:train.batch_size=128,encoder_lr_scale=0.1", ["source_mix=1.0"])
    assert name == "scratch"
    assert settings == {"source_mix": "1.0", "train.batch_size": "128", "encoder_lr_scale": "0.1"}


def test_a_list_setting_keeps_its_commas(bench: ModuleType) -> None:
    name, settings = bench.parse_variant('blend:weight_choices=[0.5,0.7],freeze=["blocks"],weight=0.6', [])
    assert name == "blend"
    assert settings == {"weight_choices": "[0.5,0.7]", "freeze": '["blocks"]', "weight": "0.6"}


def test_a_setting_is_json_or_else_the_text_itself(bench: ModuleType) -> None:
    _, settings = bench.parse_variant("blend:partner=ml-1m-lstm@1,weight=0.5,pretrained=false", [])
    values = {key: bench.setting_value(text) for key, text in settings.items()}
    assert values == {"partner": "ml-1m-lstm@1", "weight": 0.5, "pretrained": False}


def test_the_blending_control_is_reported_beside_the_choice_never_chosen(bench: ModuleType) -> None:
    rows = [run("scratch", s, valid=0.08, test=0.08) for s in range(3)]
    rows += [run("blend", s, valid=0.12, test=0.12) for s in range(3)]
    control = [run("blend:pretrained=false", s, valid=0.20, test=0.10) for s in range(3)]
    rows += [{**row, "settings": {"pretrained": False}} for row in control]
    assert bench.chosen_variants(rows) == {("transformer", 0.25): "blend"}
    against = next(line for line in bench.summarize(rows).splitlines() if "| blend:pretrained=false | 0.2000" in line)
    assert against.endswith("| +20.0% |")


def test_a_blend_with_a_partner_is_held_against_the_control_with_the_same_partner(bench: ModuleType) -> None:
    rows = [run("scratch", s, valid=0.08, test=0.08) for s in range(3)]
    rows += [{**run("blend:partner=lstm@1", s, valid=0.12, test=0.12), "settings": {"partner": "lstm@1"}} for s in range(3)]
    same_pair = {"pretrained": False}
    rows += [{**run("blend:pretrained=false", s, valid=0.30, test=0.11), "settings": same_pair} for s in range(3)]
    mixed_pair = {"pretrained": False, "partner": "lstm@1"}
    rows += [{**run("blend:partner=lstm@1,pretrained=false", s, valid=0.20, test=0.10), "settings": mixed_pair}
             for s in range(3)]
    lines = bench.summarize(rows).splitlines()
    against = [line for line in lines if line.startswith("| transformer | 0.25 | blend:partner=lstm@1 | 0.1200 | blend")]
    assert against == ["| transformer | 0.25 | blend:partner=lstm@1 | 0.1200 | blend:partner=lstm@1,pretrained=false "
                       "| 0.2000 / 0.1000 | +20.0% |"]


def with_users(row: dict[str, Any], per_user: list[float], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**row, "test_ndcg_per_user": per_user, "settings": settings or {}}


def like_for_like_lines(bench: ModuleType, rows: list[dict[str, Any]]) -> list[str]:
    return [line for line in bench.summarize(rows).split("\n\n")[1].splitlines() if line.startswith("| transformer")]


def test_one_transferred_model_is_held_against_one_scratch_model_each_chosen_on_validation(bench: ModuleType) -> None:
    rows = [with_users(run("scratch", s, valid=0.08, test=0.10), [0.1, 0.1]) for s in range(3)]
    rows += [with_users(run("scratch:train.learning_rate=0.003", s, valid=0.07, test=0.30), [0.3, 0.3]) for s in range(3)]
    rows += [with_users(run("finetune", s, valid=0.12, test=0.12), [0.12, 0.12]) for s in range(3)]
    rows += [with_users(run("finetune:train.learning_rate=0.003", s, valid=0.11, test=0.50), [0.5, 0.5]) for s in range(3)]
    assert like_for_like_lines(bench, rows) == [
        "| transformer | 0.25 | 1 | finetune (2) | 0.1200 (0.0000) | scratch (2) | 0.1000 (0.0000) | +20.0% "
        "| +20.0% to +20.0% |"]


def test_an_ensemble_is_held_against_as_many_scratch_members_counting_its_weights_as_variants(bench: ModuleType) -> None:
    weights = {"weight_choices": [0.3, 0.5, 0.7]}
    rows = [with_users(run("scratch", s, valid=0.30, test=0.30), [0.3]) for s in range(3)]
    rows += [with_users(run("blend:weight_choices=[0.3,0.5,0.7]", s, valid=0.12, test=0.15), [0.15], weights)
             for s in range(3)]
    rows += [with_users(run("blend:pretrained=false,weight_choices=[0.3,0.5,0.7]", s, valid=0.11, test=0.10), [0.1],
                        {**weights, "pretrained": False}) for s in range(3)]
    ensemble = [line for line in like_for_like_lines(bench, rows) if line.startswith("| transformer | 0.25 | 2 |")]
    assert ensemble == ["| transformer | 0.25 | 2 | blend:weight_choices=[0.3,0.5,0.7] (3) | 0.1500 (0.0000) "
                        "| blend:pretrained=false,weight_choices=[0.3,0.5,0.7] (3) | 0.1000 (0.0000) | +50.0% "
                        "| +50.0% to +50.0% |"]


def test_reference_models_are_shown_beside_the_transfers_and_never_chosen(bench: ModuleType) -> None:
    rows = [run("scratch", s, valid=0.08, test=0.10) for s in range(3)]
    rows += [run("finetune", s, valid=0.12, test=0.12) for s in range(3)]
    rows += [{**run("ease", s, valid=0.50, test=0.20 + 0.01 * s), "encoder": bench.REFERENCE} for s in range(3)]
    report = bench.summarize(rows)
    assert "| fraction | ease |\n| --- | --- |\n| 0.25 | 0.2100 |" in report
    assert bench.chosen_variants([r for r in rows if r["encoder"] != bench.REFERENCE]) == {("transformer", 0.25): "finetune"}
    assert "| reference |" not in report

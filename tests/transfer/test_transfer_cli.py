"""``recgraft transfer``, ``evaluate`` and ``recommend`` through click's runner, and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files

FAST = ["--epochs", "2", "--set", "batch_size=32", "--seed", "1"]


@pytest.fixture
def target_folder(domains, tmp_path: Path) -> Path:
    return write_atomic_files(domains[1], tmp_path / "target")


def invoke(*args: str):
    return CliRunner().invoke(build_cli(), list(args))


def test_transfer_json_reports_metrics_baseline_gain_and_overlap(source_ref, target_folder, registry) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "finetune",
                    "--align-on", "title", "--train-fraction", "0.5", *FAST, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["checkpoint"] == "target-transformer-finetune@1"
    assert set(payload["metrics"]) == {"valid", "test"} and "ndcg@10" in payload["metrics"]["test"]
    assert set(payload["baseline"]["metrics"]) == {"valid", "test"}
    assert set(payload["gain"]) >= {"ndcg@10", "hr@10"}
    assert payload["overlap"]["matched"] == 30 and payload["overlap"]["on"] == "title"
    assert payload["train_users"] == 30
    record = registry.resolve(payload["checkpoint"])
    assert record.parents == [(source_ref, "finetune")] and record.domain == "target"
    assert record.extra["gain"] == payload["gain"]


def test_transfer_human_output_reports_the_overlap_and_the_gain(source_ref, target_folder) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "direct",
                    "--epochs", "1", "--set", "learning_rate=1e-9", "--set", "item_bias=false")
    assert result.exit_code == 0, result.output
    assert "registered target-transformer-direct@1" in result.stdout
    assert "aligned 30 of 49 target items by token" in result.stdout
    assert "scratch baseline: test NDCG@10" in result.stdout and "gain over scratch: NDCG@10 " in result.stdout


def test_blend_takes_its_settings_from_set_and_records_them(source_ref, target_folder, registry) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "blend", *FAST,
                    "--set", "weight=0.6", "--set", 'freeze=["blocks"]', "--no-baseline", "--json")
    assert result.exit_code == 0, result.output
    record = registry.resolve(json.loads(result.stdout)["checkpoint"])
    assert record.parents == [(source_ref, "blend")]
    assert record.strategy == "blend" and record.extra["strategy_config"]["weight"] == 0.6
    bad = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "blend", "--set", "weight=2")
    assert bad.exit_code == 2 and "strategy 'blend': weight" in bad.output


def test_blend_weight_chosen_on_validation_is_reported_and_recorded(target_folder, registry, source_ref) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "blend", *FAST,
                    "--set", "weight_choices=[0.0, 1.0]", "--no-baseline", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    chosen = payload["chosen_on_validation"]["weight"]
    record = registry.resolve(payload["checkpoint"])
    assert chosen in (0.0, 1.0) and record.extra["chosen_on_validation"] == {"weight": chosen}
    assert record.extra["strategy_config"]["weight"] == chosen


def test_blend_partner_checkpoint_is_read_from_the_registry_and_becomes_a_parent(
    target_folder, registry, source_ref, partner_ref
) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "blend", *FAST,
                    "--set", "partner=src-lstm", "--no-baseline", "--json")
    assert result.exit_code == 0, result.output
    record = registry.resolve(json.loads(result.stdout)["checkpoint"])
    assert record.parents == [(source_ref, "blend"), (partner_ref, "blend")]


def test_an_unknown_blend_partner_is_one_line_and_registers_nothing(target_folder, registry, source_ref) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "blend", *FAST,
                    "--set", "partner=nope@2", "--no-baseline")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "nope@2" in result.stderr
    assert [r.reference for r in registry.list()] == [source_ref]


def test_negative_gain_is_called_negative_transfer(monkeypatch, source_ref, target_folder) -> None:
    from recgraft.transfer import baseline

    monkeypatch.setattr(baseline, "relative_gain", lambda metrics, baseline: {"ndcg@10": -0.25, "hr@10": 0.1})
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "direct", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "negative transfer: direct is worse than training from scratch on test NDCG@10" in result.stdout


def test_negative_transfer_is_named_in_the_json_and_said_on_stderr(monkeypatch, source_ref, target_folder) -> None:
    from recgraft.transfer import baseline

    monkeypatch.setattr(baseline, "relative_gain", lambda metrics, baseline: {"ndcg@10": -0.25, "hr@10": 0.1})
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "direct", "--epochs", "1",
                    "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["negative_transfer"] == ["ndcg@10"]
    assert "negative transfer: direct is worse than training from scratch on test NDCG@10" in result.stderr


def test_transfer_user_errors_are_one_line(source_ref, target_folder) -> None:
    bad_ref = invoke("transfer", "--from", "nope@3", "--data", str(target_folder), "--strategy", "direct")
    assert bad_ref.exit_code == 2 and len(bad_ref.stderr.strip().splitlines()) == 1
    assert "nope" in bad_ref.stderr
    unknown = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "fintune")
    assert unknown.exit_code == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert "did you mean 'finetune'" in unknown.stderr
    bad_set = invoke("transfer", "--from", "src", "--data", str(target_folder), "--set", "strategy.encoder_lr=2")
    assert bad_set.exit_code == 2 and len(bad_set.stderr.strip().splitlines()) == 1
    assert "section strategy has no field 'encoder_lr'; did you mean strategy.encoder_lr_scale?" in bad_set.stderr
    no_column = invoke("transfer", "--from", "src", "--data", str(target_folder), "--align-on", "movie_title",
                       "--no-baseline", "--epochs", "1")
    assert no_column.exit_code == 2 and "no item column 'movie_title'" in no_column.stderr


@pytest.mark.parametrize("fraction", ["nan", "inf", "-inf", "0", "1.5"])
def test_train_fraction_that_is_not_finite_or_outside_0_1_is_refused_at_parsing(
    source_ref, target_folder, registry, fraction: str
) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--train-fraction", fraction,
                    "--epochs", "1", "--no-baseline")
    assert result.exit_code == 2 and "Invalid value for '--train-fraction'" in result.stderr
    assert [record.reference for record in registry.list()] == [source_ref]


@pytest.mark.parametrize(
    "args",
    [
        ["transfer", "--from", "src", "--data", "TARGET", "-o", "user_field=who"],
        ["transfer", "--from", "src", "--data", "TARGET", "--source-data", "TARGET", "--source-format", "atomic",
         "--source-option", "user_field=who"],
        ["evaluate", "src", "--data", "TARGET", "--option", "user_field=who"],
        ["recommend", "src", "--data", "TARGET", "--user", "u1", "-o", "user_field=who"],
    ],
)
def test_every_command_that_reads_data_takes_loader_options(source_ref, target_folder, args: list[str]) -> None:
    result = invoke(*[str(target_folder) if arg == "TARGET" else arg for arg in args])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "no field 'who'" in result.stderr


def test_evaluate_refuses_data_where_no_user_can_be_evaluated(source_ref, tmp_path: Path) -> None:
    data = tmp_path / "singles.csv"
    data.write_text("user,item\n" + "".join(f"u{u},item{u:05d}\n" for u in range(20)))
    result = invoke("evaluate", "src", "--data", str(data), "--json")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "'singles': no user has the 3 interactions leave-one-out needs" in result.stderr


def test_evaluate_json_with_breakdown_for_pretrained_and_transferred(source_ref, target_folder) -> None:
    done = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "direct",
                  "--no-baseline", "--name", "tgt", *FAST, "--json")
    assert done.exit_code == 0, done.output
    for ref, kind, unknown in (("tgt", "transfer", 0), ("src", "pretrained", 19)):
        result = invoke("evaluate", ref, "--data", str(target_folder), "--json")
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["kind"] == kind and payload["unknown_items"] == unknown
        assert [b["bucket"] for b in payload["by_history_length"]] == ["1-5", "6-20", "21-50", ">50"]
        assert set(payload["metrics"]) == {"valid", "test"}
    human = invoke("evaluate", "tgt", "--data", str(target_folder))
    assert human.exit_code == 0 and "by history length" in human.stdout
    assert invoke("evaluate", "missing", "--data", str(target_folder)).exit_code == 2


def test_recommend_by_history_and_by_user(source_ref, target_folder, domains) -> None:
    items = domains[0].items  # the source checkpoint's items
    history = [items.token(3), items.token(7)]
    result = invoke("recommend", "src", "--history", history[0], "--history", history[1], "--history", "a, b",
                    "-k", "4", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["items"]) == 4 and payload["skipped"] == ["a, b"]
    assert not set(history) & {row["item"] for row in payload["items"]}
    assert "skipping 1 item" in result.stderr
    user = domains[1].users.token(1)
    by_user = invoke("recommend", "src", "--data", str(target_folder), "--user", user, "-k", "3")
    assert by_user.exit_code == 0, by_user.output
    assert by_user.stdout.startswith("  1. ") and len(by_user.stdout.strip().splitlines()) == 3
    none_known = invoke("recommend", "src", "--history", "zzz")
    assert none_known.exit_code == 2 and "none of the --history items" in none_known.stderr
    both = invoke("recommend", "src", "--history", history[0], "--user", user)
    assert both.exit_code == 2


def test_transfer_as_a_real_process(source_ref, target_folder, isolated_home: Path) -> None:
    env = {**os.environ, "RECGRAFT_HOME": str(isolated_home)}
    done = subprocess.run(
        [sys.executable, "-m", "recgraft", "transfer", "--from", "src", "--data", str(target_folder),
         "--strategy", "direct", "--no-baseline", "--epochs", "1", "--device", "cpu", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["checkpoint"] == "target-transformer-direct@1" and "baseline" not in payload


def test_an_unusable_store_is_one_line_before_reading_or_training(tmp_path: Path) -> None:
    store = tmp_path / "store-file"
    store.write_text("not a folder")
    result = invoke("transfer", "--from", "src", "--data", str(tmp_path / "nowhere"), "--strategy", "finetune",
                    "--store", str(store))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert f"cannot use the checkpoint store {store}: {store} is not a folder" in result.stderr


def test_a_diverged_transfer_is_one_line_exit_2_and_registers_nothing(source_ref, target_folder, registry) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "finetune", *FAST,
                    "--set", "learning_rate=1e30", "--no-baseline", "--json")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]  # after the progress log
    assert len(errors) == 1 and "training diverged at epoch 1 (loss nan)" in errors[0]
    assert [r.reference for r in registry.list()] == [source_ref]


KILL_AT = Path(__file__).parents[1] / "kill_at.py"
KILLED = 86


def test_a_transfer_killed_in_training_or_registration_leaves_the_registry_clean(source_ref, target_folder,
                                                                                registry) -> None:
    run = ["transfer", "--from", "src", "--data", str(target_folder), "--strategy", "finetune", *FAST,
           "--no-baseline", "--json"]

    def killed(target: str, when: str, nth: int) -> int:
        return subprocess.run([sys.executable, str(KILL_AT), target, when, str(nth), "--", *run],
                              capture_output=True, text=True, timeout=120).returncode

    def verify(*args: str) -> tuple[int, dict]:
        result = invoke("registry", "verify", "--json", *args)
        return result.exit_code, json.loads(result.stdout)

    source = registry.resolve(source_ref)
    assert killed("recgraft.engine.loop:check_losses", "after", 1) == KILLED  # after epoch 1
    assert verify()[0] == 0 and [r.reference for r in registry.list()] == [source_ref]
    assert killed("sqlalchemy.orm:Session.commit", "before", 1) == KILLED  # between the file and its record
    code, report = verify()
    assert code == 1 and len(report["orphans"]) == 1 and report["missing"] == report["mismatched"] == []
    assert verify("--clean")[0] == 0 and verify()[0] == 0
    assert [r.reference for r in registry.list()] == [source_ref]
    assert registry.resolve(source_ref).digest == source.digest and registry.read_bytes(source)
    finished = invoke(*run)  # and the same run, uninterrupted, registers as version 1
    assert finished.exit_code == 0 and json.loads(finished.stdout)["checkpoint"] == "target-transformer-finetune@1"


def test_transfer_and_evaluate_take_a_split_and_report_it(source_ref, target_folder, registry) -> None:
    result = invoke("transfer", "--from", "src", "--data", str(target_folder), "--strategy", "finetune",
                    "--split", "ratio-time:0.6,0.2,0.2", "--no-baseline", *FAST, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["split"] == "ratio-time:0.6,0.2,0.2" and "precision@10" in payload["metrics"]["test"]
    assert registry.resolve(payload["checkpoint"]).extra["split"] == "ratio-time:0.6,0.2,0.2"
    evaluated = invoke("evaluate", payload["checkpoint"], "--data", str(target_folder),
                       "--split", "ratio-time:0.6,0.2,0.2", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["split"] == "ratio-time:0.6,0.2,0.2"
    assert report["metrics"]["test"]["ndcg@10"] == pytest.approx(payload["metrics"]["test"]["ndcg@10"], abs=1e-4)
    # without --split, evaluate uses the checkpoint's own split; --split loo asks for another
    assert json.loads(invoke("evaluate", payload["checkpoint"], "--data", str(target_folder), "--json").stdout
                      )["split"] == "ratio-time:0.6,0.2,0.2"
    assert json.loads(invoke("evaluate", payload["checkpoint"], "--data", str(target_folder), "--split", "loo",
                             "--json").stdout)["split"] == "loo"

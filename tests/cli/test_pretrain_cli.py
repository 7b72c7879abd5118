"""``recgraft pretrain`` through click's runner and as a real process."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains
from recgraft.registry import Registry

TINY = ["--set", "embedding_dim=8", "--set", "max_length=8", "--set", "num_heads=1", "--epochs", "2"]


@pytest.fixture
def source_folder(tmp_path: Path) -> Path:
    source, _ = synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=3)
    return write_atomic_files(source, tmp_path / "source")


def test_pretrain_json_registers_the_checkpoint(source_folder: Path) -> None:
    result = CliRunner().invoke(
        build_cli(), ["pretrain", "--data", str(source_folder), "--encoder", "transformer", *TINY, "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["checkpoint"] == "source-transformer@1"
    assert set(payload["metrics"]) == {"valid", "test"} and "ndcg@10" in payload["metrics"]["test"]
    assert payload["epochs"] == 2 and payload["seconds"] > 0
    record = Registry.open().resolve("source-transformer")
    assert record.encoder == "transformer" and record.strategy is None
    assert record.device == "cpu" and record.dataset_fingerprint


def test_pretrain_with_a_name_and_config_file(source_folder: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[encoder]\nembedding_dim = 8\nmax_length = 8\nnum_heads = 1\n[train]\nepochs = 1\n")
    result = CliRunner().invoke(
        build_cli(), ["pretrain", "--data", str(source_folder), "--config", str(config), "--name", "mine", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checkpoint"] == "mine@1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--encoder", "transfomer"], "did you mean 'transformer'"),
        (["--set", "embeding_dim=8"], "embeding_dim"),
        (["--set", "train.learning_rate=-1"], "learning_rate"),
        (["--name", "a/b"], "name"),
        (["--set", "embedding_dim=1000000000"], "embedding_dim: Input should be less than or equal to"),
        (["--set", "max_length=1000000000"], "max_length: Input should be less than or equal to"),
        (["--set", "train.seed=1180591620717411303424"], "seed: Input should be less than or equal to"),
        (["--set", "train.learning_rate=inf"], "learning_rate: Input should be a finite number"),
        (["--set", "learning_rate=NaN"], "learning_rate: Input should be a finite number"),
        (["--set", "max_minutes=Infinity"], "max_minutes: Input should be a finite number"),
        (["--set", "embe\nding_dim=8"], "--set embe ding_dim: no section has that field"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(source_folder: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert Registry.open().list() == []


def test_a_misspelt_set_key_suggests_the_field_and_the_suggestion_runs(source_folder: Path) -> None:
    cli = build_cli()
    misspelt = CliRunner().invoke(cli, ["pretrain", "--data", str(source_folder), "--set", "embeding_dim=8"])
    assert misspelt.exit_code == 2
    assert "--set embeding_dim: no section has that field; did you mean encoder.embedding_dim?" in misspelt.stderr
    fixed = [arg.replace("embedding_dim=", "encoder.embedding_dim=") for arg in TINY]
    result = CliRunner().invoke(cli, ["pretrain", "--data", str(source_folder), *fixed, "--epochs", "1", "--json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("seed", [str(2**63), str(2**70), "-1"])
def test_seed_beyond_what_torch_and_numpy_take_is_refused_at_parsing(source_folder: Path, seed: str) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--seed", seed])
    assert result.exit_code == 2 and "Invalid value for '--seed'" in result.stderr


@pytest.mark.parametrize(("name", "text"), [("run.json", '{"encoder": 3}'), ("run.json", "[1, 2]"),
                                            ("run.toml", "train = 3")])
def test_config_file_that_is_not_a_table_of_tables_is_one_line_and_exit_2(
    source_folder: Path, tmp_path: Path, name: str, text: str
) -> None:
    config = tmp_path / name
    config.write_text(text)
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--config", str(config)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "must be a table" in result.stderr and result.stderr.count("\n") == 1


def test_settings_too_large_for_the_machine_are_refused_before_training(
    source_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recgraft.engine import memory

    monkeypatch.setattr(memory, "device_memory", lambda device: 2**20)
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--epochs", "1"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "encoder 'transformer': needs at least" in result.stderr and "GiB of cpu" in result.stderr
    assert Registry.open().list() == []


def singles_csv(tmp_path: Path) -> Path:
    """A latin-1 csv with unusual column names in which every user has one interaction."""
    path = tmp_path / "singles.csv"
    path.write_text("who,what\n" + "".join(f"u{u},caf\xe9{u % 7}\n" for u in range(30)), encoding="latin-1")
    return path


def test_data_where_no_user_can_be_evaluated_is_refused_before_training(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(singles_csv(tmp_path)), "-o", "user=who",
                                              "--option", "item=what", "-o", "encoding=latin-1", *TINY])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "'singles': no user has the 3 interactions leave-one-out needs" in result.stderr
    assert Registry.open().list() == []


def test_pretrain_passes_loader_options_and_their_errors_are_one_line(tmp_path: Path) -> None:
    data = str(singles_csv(tmp_path))
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", data])
    assert result.exit_code == 2 and "pass its encoding (--option encoding=NAME" in result.stderr
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", data, "-o", "encoding=latin-1", "-o", "user=who"])
    assert result.exit_code == 2 and "--option item=COLUMN" in result.stderr
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(singles_csv(tmp_path)), "-o", "name=x"])
    assert result.exit_code == 2 and "--option name: not a loader option; use --domain" in result.stderr


def test_resume_with_nothing_saved_says_so_and_trains_from_scratch(source_folder: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--resume", "--json"])
    assert result.exit_code == 0, result.output
    assert "no interrupted run with this data and these settings was found; training from scratch" in result.stderr
    assert json.loads(result.stdout)["checkpoint"] == "source-transformer@1"


def test_pretrain_from_a_checkpoint_continues_its_weights_and_records_the_parent(source_folder: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--set", "dropout=0.3"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--from", "source-transformer",
                                         "--epochs", "1", "--set", "learning_rate=0.0005", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checkpoint"] == "source-transformer@2"
    registry = Registry.open()
    record = registry.resolve("source-transformer@2")
    assert record.parents == [("source-transformer@1", "continued")]
    assert record.encoder == "transformer" and record.encoder_config["dropout"] == 0.3  # the parent's settings


def test_pretrain_from_refuses_encoder_settings_and_other_items(source_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY]).exit_code == 0
    changed = runner.invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--from", "source-transformer",
                                          "--set", "embedding_dim=16"])
    assert changed.exit_code == 2 and "only training settings" in changed.stderr
    _, other = synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=3)
    elsewhere = write_atomic_files(other, tmp_path / "target")
    moved = runner.invoke(build_cli(), ["pretrain", "--data", str(elsewhere), "--from", "source-transformer"])
    assert moved.exit_code == 2 and "run recgraft transfer" in moved.stderr and moved.stderr.count("\n") == 1


def test_missing_data_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_pretrain_runs_as_a_real_process(source_folder: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "recgraft", "pretrain", "--data", str(source_folder), "--encoder", "gan",
         "--set", "embedding_dim=8", "--set", "hidden_dim=8", "--epochs", "1", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["checkpoint"] == "source-gan@1"


def test_an_unusable_store_is_one_line_before_any_training(source_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "store-file"
    store.write_text("not a folder")
    for target in (store, store / "sub"):
        result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--store", str(target),
                                                  *TINY])
        assert result.exit_code == 2 and result.stderr.count("\n") == 1
        assert f"cannot use the checkpoint store {target}: {store} is not a folder" in result.stderr
    assert not (tmp_path / "recgraft-home" / "registry.db").exists()


def test_a_home_that_is_a_file_is_one_line_before_any_training(
    source_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("RECGRAFT_HOME", str(home))
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "is not a folder" in result.stderr
    # With the registry and the store elsewhere, the home still holds the resumable runs.
    url = f"sqlite:///{tmp_path / 'r.db'}"
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--registry", url,
                                              "--store", str(tmp_path / "store"), *TINY])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and f"cannot create {home}" in result.stderr


# --- fuzzing: whatever the settings, pretrain refuses in one line before any work or runs

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIELDS = ["embedding_dim", "max_length", "num_layers", "num_heads", "dropout", "epochs", "batch_size",
          "learning_rate", "weight_decay", "sampled_negatives", "clip_grad_norm", "patience", "max_minutes",
          "eval_batch_size", "seed", "bucket_by_length"]
KEYS = st.one_of(st.sampled_from(FIELDS), st.sampled_from(FIELDS).map(lambda f: f"train.{f}"),
                 st.sampled_from(FIELDS).map(lambda f: f"encoder.{f}"), st.text(max_size=12))
VALUES = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e309", "null", "true", "[]", "{}", '"8"', "", "8", "0.5"]),
    st.integers(min_value=-2**80, max_value=2**80).map(str),
    st.floats().map(repr),
    st.text(max_size=12),
)
CONFIGS = st.one_of(
    st.text(max_size=60),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                     st.sampled_from(["encoder", "train", *FIELDS]), inner, max_size=3),
                 max_leaves=8).map(json.dumps),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.lists(st.tuples(KEYS, VALUES), max_size=3), config=st.none() | st.tuples(
    st.sampled_from(["run.json", "run.toml"]), CONFIGS))
def test_any_settings_fail_in_one_line_before_training_or_pass_validation(
    tmp_path: Path, overrides: list[tuple[str, str]], config: tuple[str, str] | None
) -> None:
    """On data nobody can be evaluated on, valid settings reach that check (exit 2 too): no run ever trains."""
    data = tmp_path / "singles.csv"
    if not data.exists():
        data.write_text("user,item\n" + "".join(f"u{u},i{u % 5}\n" for u in range(20)))
    args = ["pretrain", "--data", str(data), "--epochs", "1"]
    for key, value in overrides:
        args += ["--set", f"{key}={value}"]
    if config is not None:
        path = tmp_path / config[0]
        path.write_text(config[1], encoding="utf-8", errors="surrogateescape")
        args += ["--config", str(path)]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert Registry.open().list() == []


def test_a_diverged_pretrain_is_one_line_exit_2_and_registers_nothing(source_folder: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY,
                                              "--set", "train.learning_rate=1e30", "--json"])
    assert result.exit_code == 2, result.output
    assert "training diverged at epoch" in result.stderr and "lower the learning rate" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]  # after the progress log
    assert len(errors) == 1 and errors[0] == result.stderr.splitlines()[-1] and result.stdout == ""
    assert Registry.open().list() == []


def _pretrain_in_child(args: list[str]) -> None:
    """A forked process running ``recgraft pretrain ARGS`` (torch already imported: no start-up cost)."""
    import torch

    torch.set_num_threads(1)
    try:
        build_cli().main(["pretrain", *args], prog_name="recgraft", standalone_mode=True)
    except SystemExit as exit:
        os._exit(exit.code if isinstance(exit.code, int) else 1)
    os._exit(0)


def test_concurrent_pretrains_differing_only_in_name_all_finish_and_register(source_folder: Path) -> None:
    fork = multiprocessing.get_context("fork")
    runs = [fork.Process(target=_pretrain_in_child,
                         args=(["--data", str(source_folder), *TINY, "--epochs", "3", "--name", f"run{i}"],))
            for i in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert [run.exitcode for run in runs] == [0, 0, 0]
    registry = Registry.open()
    assert sorted(r.reference for r in registry.list()) == ["run0@1", "run1@1", "run2@1"]
    assert registry.verify().ok
    runs_folder = Path(os.environ["RECGRAFT_HOME"]) / "runs"
    assert not [p for p in runs_folder.iterdir() if p.suffix != ".lock"]  # every resume file removed, no tmp left
    assert len(list(runs_folder.glob("*.lock"))) == 3  # one run, one resume file each


def _run_lock(source_folder: Path) -> Path:
    """The lock file of the TINY run (left in runs/ by a finished run), after running it once."""
    assert CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY]).exit_code == 0
    (lock,) = (Path(os.environ["RECGRAFT_HOME"]) / "runs").glob("*.lock")
    return lock


def test_a_second_live_run_with_the_same_settings_is_one_line_exit_2(source_folder: Path) -> None:
    lock = _run_lock(source_folder)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('held', flush=True); sys.stdin.readline()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--resume"])
    finally:
        holder.communicate("\n", timeout=30)
    assert result.exit_code == 2
    assert "another run with the same settings is using" in result.stderr and result.stderr.count("\n") == 1
    assert [r.reference for r in Registry.open().list()] == ["source-transformer@1"]


def test_resume_from_a_corrupt_file_is_one_line_naming_it(source_folder: Path) -> None:
    resume_file = _run_lock(source_folder).with_suffix("")  # runs/pretrain-<key>.pt
    resume_file.write_bytes(b"recgraft-resume-v1 0123\n\x80\x02garbage")
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--resume"])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(resume_file) in errors[0] and "delete it or run without --resume" in errors[0]
    assert resume_file.exists()  # the user decides: delete it, or run without --resume
    again = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["checkpoint"] == "source-transformer@2"


KILL_AT = Path(__file__).parents[1] / "kill_at.py"
KILLED = 86
RESUME_SAVE = ("recgraft.engine.resume:save", "after")  # the Nth call saves epoch N
COMMIT = ("sqlalchemy.orm:Session.commit", "before")  # the first is the registration's
REGISTER = ("recgraft.registry:Registry.register", "after")
REPLACE = ("os:replace", "before")  # the Nth is the Nth resume save's rename


def _crashing_pretrain(point: tuple[str, str], nth: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``recgraft pretrain`` in a process that tests/kill_at.py kills at the ``nth`` call of ``point``."""
    return subprocess.run([sys.executable, str(KILL_AT), *point, str(nth), "--", "pretrain", *args],
                          capture_output=True, text=True, timeout=120)


def _verify(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(build_cli(), ["registry", "verify", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_a_pretrain_killed_after_a_resume_save_leaves_the_registry_clean_and_resumes_bit_identically(
    source_folder: Path,
) -> None:
    run = ["--data", str(source_folder), *TINY, "--epochs", "4", "--json"]
    whole = CliRunner().invoke(build_cli(), ["pretrain", *run, "--name", "whole"])
    assert whole.exit_code == 0, whole.output
    killed = _crashing_pretrain(RESUME_SAVE, 2, *run, "--name", "cut")
    assert killed.returncode == KILLED and killed.stdout == "", killed.stderr
    assert _verify()[0] == 0  # nothing half-registered
    assert [r.reference for r in Registry.open().list()] == ["whole@1"]
    resumed = CliRunner().invoke(build_cli(), ["pretrain", *run, "--name", "cut", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after epoch 2" in resumed.stderr
    assert json.loads(resumed.stdout)["metrics"] == json.loads(whole.stdout)["metrics"]
    registry = Registry.open()
    assert registry.resolve("cut").digest == registry.resolve("whole").digest  # the same bytes, bit for bit


def test_a_pretrain_killed_during_registration_loses_no_record_and_leaves_only_what_verify_clean_removes(
    source_folder: Path,
) -> None:
    run = ["--data", str(source_folder), *TINY, "--json"]
    assert CliRunner().invoke(build_cli(), ["pretrain", *run, "--name", "kept"]).exit_code == 0
    kept = Registry.open().resolve("kept")
    # Killed between writing the checkpoint file and committing its record (another seed: other
    # bytes, since the content-addressed store would share kept's identical file).
    crashed = _crashing_pretrain(COMMIT, 1, *run, "--seed", "1", "--name", "lost")
    assert crashed.returncode == KILLED, crashed.stderr
    code, report = _verify()
    assert code == 1 and len(report["orphans"]) == 1 and report["missing"] == report["mismatched"] == []
    code, report = _verify("--clean")
    assert code == 0 and len(report["removed_orphans"]) == 1
    assert _verify()[0] == 0
    # Killed after the commit, before the run removed its resume file: the record stands.
    late = _crashing_pretrain(REGISTER, 1, *run, "--seed", "2", "--name", "late")
    assert late.returncode == KILLED, late.stderr
    assert _verify()[0] == 0
    registry = Registry.open()
    assert sorted(r.reference for r in registry.list()) == ["kept@1", "late@1"]
    assert registry.read_bytes(registry.resolve("kept")) and registry.resolve("kept").digest == kept.digest
    # The trained run whose registration died registers from its resume file, without training again.
    again = CliRunner().invoke(build_cli(), ["pretrain", *run, "--seed", "1", "--name", "lost", "--resume"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["checkpoint"] == "lost@1" and "resumed after epoch 2" in again.stderr


def test_a_pretrain_killed_while_saving_its_resume_file_resumes_from_the_previous_epoch(source_folder: Path) -> None:
    run = ["pretrain", "--data", str(source_folder), *TINY, "--epochs", "3", "--json"]
    killed = _crashing_pretrain(REPLACE, 2, *run[1:])
    assert killed.returncode == KILLED, killed.stderr
    runs_folder = Path(os.environ["RECGRAFT_HOME"]) / "runs"
    assert len(list(runs_folder.glob("*.tmp"))) == 1  # the torn write never replaced the epoch-1 state
    resumed = CliRunner().invoke(build_cli(), [*run, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after epoch 1" in resumed.stderr and json.loads(resumed.stdout)["epochs"] == 3
    assert list(runs_folder.glob("*.tmp")) == []  # the next claim of the run removed it


def test_log_lines_off_a_terminal_are_not_wrapped(source_folder: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert len(first) > 80 and first.startswith("pretraining transformer") and first.endswith(" on cpu")


def test_pretrain_on_a_ratio_split_records_the_split_everywhere(source_folder: Path) -> None:
    from recgraft.checkpoint import from_bytes

    result = CliRunner().invoke(
        build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--split", "ratio:0.6,0.2,0.2", "--seed", "1",
                      "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["split"] == "ratio:0.6,0.2,0.2"
    test = payload["metrics"]["test"]
    assert test["users"] > 0 and 0.0 <= test["precision@10"] <= 1.0 and 0.0 <= test["recall@10"] <= 1.0
    registry = Registry.open()
    record = registry.resolve(payload["checkpoint"])
    assert record.extra["split"] == "ratio:0.6,0.2,0.2"
    assert from_bytes(registry.read_bytes(record)).metadata["split"] == "ratio:0.6,0.2,0.2"


def test_pretrain_records_leave_one_out_by_default(source_folder: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), *TINY, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["split"] == "loo"
    assert Registry.open().resolve("source-transformer").extra["split"] == "loo"


@pytest.mark.parametrize(("spec", "message"), [("kfold:5", "unknown split 'kfold:5'"),
                                               ("ratio:0.8,0.1", "needs 3 comma-separated shares")])
def test_a_bad_split_is_one_line_and_exit_2(source_folder: Path, spec: str, message: str) -> None:
    result = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(source_folder), "--split", spec])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1

"""Item features on the command line: pretrain --item-features, transfer onto a catalogue with no
shared item (--align-on none, --feature-map), evaluate and recommend on items never trained on."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains

TINY = ["--set", "embedding_dim=8", "--set", "max_length=8", "--set", "num_heads=1", "--set", "num_layers=1"]


def invoke(*args: str):
    return CliRunner().invoke(build_cli(), list(args))


@pytest.fixture(scope="module")
def disjoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A source and a target that share no item; the target calls its genre column 'kind'."""
    source, target = synthetic_domains(num_users=(80, 30), num_items=(40, 30), overlap=0.0, seed=4)
    features = dict(target.item_features)
    target = dataclasses.replace(target, item_features={"kind": features.pop("genre"), **features})
    folder = tmp_path_factory.mktemp("disjoint")
    return write_atomic_files(source, folder / "source"), write_atomic_files(target, folder / "target")


@pytest.fixture
def registry(isolated_home: Path):
    from recgraft.registry import Registry

    reg = Registry.open()
    yield reg
    reg.close()


@pytest.fixture
def source_ref(disjoint: tuple[Path, Path]) -> str:
    result = invoke("pretrain", "--data", str(disjoint[0]), "--item-features", "genre,title", *TINY,
                    "--epochs", "2", "--name", "src", "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["checkpoint"])


def test_pretrain_records_the_item_features_with_the_checkpoint(source_ref: str, registry) -> None:
    record = registry.resolve(source_ref)
    specs = record.encoder_config["item_features"]
    assert [(s["column"], s["kind"]) for s in specs] == [("genre", "tokens"), ("title", "text")]
    assert specs[0]["state"]["vocabulary"]


def test_pretrain_with_a_missing_feature_column_exits_2_naming_it(disjoint: tuple[Path, Path]) -> None:
    result = invoke("pretrain", "--data", str(disjoint[0]), "--item-features", "colour", *TINY, "--epochs", "1")
    assert result.exit_code == 2
    assert "item feature 'colour'" in result.output and "no item column 'colour'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_transfer_onto_new_items_needs_the_renamed_column(source_ref: str, disjoint: tuple[Path, Path]) -> None:
    result = invoke("transfer", "--from", source_ref, "--data", str(disjoint[1]), "--align-on", "none",
                    "--epochs", "1", "--no-baseline")
    assert result.exit_code == 2
    assert "no item column 'genre'" in result.output and "--feature-map genre=COLUMN" in result.output


def test_transfer_with_no_shared_item_carries_the_features_over(source_ref: str, disjoint: tuple[Path, Path]) -> None:
    result = invoke("transfer", "--from", source_ref, "--data", str(disjoint[1]), "--align-on", "none",
                    "--feature-map", "genre=kind", "--epochs", "2", "--set", "batch_size=32", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["overlap"]["matched"] == 0 and payload["overlap"]["on"] == "none"
    groups = {row["items"]: row for row in payload["by_item"]}
    assert groups["new to the source"]["users"] > 0 and groups["known to the source"]["users"] == 0
    assert "baseline" in payload  # the scratch baseline has the same item features


def test_evaluate_scores_items_the_checkpoint_never_saw_from_their_features(source_ref: str,
                                                                              disjoint: tuple[Path, Path]) -> None:
    result = invoke("evaluate", source_ref, "--data", str(disjoint[1]), "--feature-map", "genre=kind", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["unknown_items"] == 0 and payload["new_items"] == 30
    assert payload["metrics"]["test"]["users"] == 30
    assert {row["items"] for row in payload["by_item"]} >= {"seen in training", "new to the source"}


def test_recommend_for_a_history_of_entirely_new_items(source_ref: str, disjoint: tuple[Path, Path]) -> None:
    from recgraft.data.loader import load_domain

    target = load_domain(disjoint[1])
    history = [target.items.token(i) for i in (1, 2, 3)]
    args = ["recommend", source_ref, "--data", str(disjoint[1]), "--feature-map", "genre=kind", "-k", "5", "--json"]
    result = invoke(*args, *[f"--history={token}" for token in history])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["history"] == 3 and not payload["skipped"]
    recommended = [row["item"] for row in payload["items"]]
    assert len(recommended) == 5 and not set(recommended) & set(history)
    assert set(recommended) <= set(target.items.tokens[1:])


def test_item_vectors_from_a_file_are_a_feature_column(disjoint: tuple[Path, Path], tmp_path: Path) -> None:
    from recgraft.data.loader import load_domain

    source = load_domain(disjoint[0])
    vectors = tmp_path / "emb.npz"
    np.savez(vectors, items=source.items.tokens[1:].astype(str),
             vectors=np.random.default_rng(0).normal(size=(source.num_items, 6)))
    result = invoke("pretrain", "--data", str(disjoint[0]), "--item-vectors", str(vectors), "--item-features", "emb",
                    *TINY, "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.npz"
    np.savez(bad, wrong=np.zeros(3))
    failed = invoke("pretrain", "--data", str(disjoint[0]), "--item-vectors", str(bad), *TINY, "--epochs", "1")
    assert failed.exit_code == 2 and "'items' and 'vectors'" in failed.output


def test_a_malformed_feature_map_exits_2(source_ref: str, disjoint: tuple[Path, Path]) -> None:
    result = invoke("evaluate", source_ref, "--data", str(disjoint[1]), "--feature-map", "genre")
    assert result.exit_code == 2 and "FEATURE=COLUMN" in result.output


def test_feature_transfer_as_a_real_process(source_ref: str, disjoint: tuple[Path, Path], isolated_home: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "recgraft", "evaluate", source_ref, "--data", str(disjoint[1]),
                           "--feature-map", "genre=kind"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "30 new items scored from their features" in done.stdout


def test_a_checkpoint_with_item_features_exports_to_onnx_with_parity(source_ref: str, disjoint: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    result = invoke("export", source_ref, "--format", "onnx", "--out", str(tmp_path / "model.onnx"),
                    "--check-data", str(disjoint[0]))
    assert result.exit_code == 0, result.output
    assert "parity: onnxruntime equals torch" in result.output

"""Checkpoints record which plugin distribution and version provide each component; loading
names the distribution to install when one is missing, and which plugin a clashing name needs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from recgraft import __version__
from recgraft.checkpoint import from_bytes, read_metadata
from recgraft.checkpoint.modules import encoder_from_checkpoint
from recgraft.cli import build_cli
from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.errors import DuplicateComponentError, MissingPluginError, UnknownComponentError
from recgraft.pretrain import pretrain
from recgraft.recommender import load_recommender
from recgraft.registry import Registry

FIXTURES = Path(__file__).parents[1] / "plugins"
WINDOWMEAN = {"plugin": "windowmean", "distribution": "recgraft-windowmean", "version": "0.2.0"}


@pytest.fixture(scope="module")
def trained_bytes() -> bytes:
    split = leave_one_out(synthetic_domains(num_users=(60, 20), num_items=(30, 20), seed=4)[0])
    config = {"embedding_dim": 8, "hidden_dim": 8, "max_length": 8}
    return pretrain(split, "lstm", config, {"epochs": 1}, device="cpu").to_bytes()


def edited(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The checkpoint with its metadata changed by ``edit`` (tensors as they were)."""
    metadata = read_metadata(data)
    edit(metadata)
    return save_tensors(load_tensors(data), metadata={"recgraft": json.dumps(metadata)})


def recording(role: str, **spec: Any) -> Callable[[dict[str, Any]], None]:
    def edit(metadata: dict[str, Any]) -> None:
        metadata["components"][role].update(spec)

    return edit


def test_a_builtin_component_records_the_recgraft_distribution_and_version(trained_bytes) -> None:
    spec = read_metadata(trained_bytes)["components"]["encoder"]
    assert spec["distribution"] == "recgraft" and spec["version"] == __version__
    assert spec["plugin"] == "recgraft.plugins.encoders"


def test_a_missing_component_names_the_distribution_to_install(checkpoint_bytes) -> None:
    data = edited(checkpoint_bytes(encoder="windowmean"), recording("encoder", **WINDOWMEAN))
    with pytest.raises(MissingPluginError) as caught:
        load_recommender(data)
    assert isinstance(caught.value, UnknownComponentError)
    assert str(caught.value) == (
        "checkpoint: unknown encoder 'windowmean': this checkpoint needs it from the distribution "
        "recgraft-windowmean 0.2.0 (pip install recgraft-windowmean)"
    )


def test_the_cli_reports_a_missing_plugin_in_one_line_with_exit_code_2(checkpoint_bytes) -> None:
    data = edited(checkpoint_bytes(encoder="windowmean"), recording("encoder", **WINDOWMEAN))
    with Registry.open() as registry:
        registry.register("old", data, domain="d", encoder="windowmean", encoder_config={})
    result = CliRunner().invoke(build_cli(), ["recommend", "old", "--history", "i1"])
    assert result.exit_code == 2, result.output
    assert "unknown encoder 'windowmean': this checkpoint needs it from the distribution recgraft-windowmean " \
           "0.2.0 (pip install recgraft-windowmean)" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_component_of_a_disabled_plugin_says_it_is_disabled(checkpoint_bytes, plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\ndisable = ["toy_plugin"]\n')
    data = edited(checkpoint_bytes(strategy="finetune"),
                  recording("head", name="toy", plugin="toy_plugin", distribution=None, version=None))
    with pytest.raises(MissingPluginError, match="needs it from the local plugin toy_plugin, installed but its "
                                                 "plugin toy_plugin is disabled"):
        load_recommender(data)


def test_another_installed_version_logs_a_warning_and_loads(trained_bytes, caplog) -> None:
    data = edited(trained_bytes, recording("encoder", version="0.0.1"))
    with caplog.at_level(logging.WARNING, logger="recgraft"):
        encoder_from_checkpoint(from_bytes(data))
    assert f"encoder 'lstm': this checkpoint was written with recgraft 0.0.1, {__version__} is installed" \
        in caplog.text


def test_a_checkpoint_without_recorded_distributions_still_loads(trained_bytes, caplog) -> None:
    def forget(metadata: dict[str, Any]) -> None:
        for key in ("plugin", "distribution", "version"):
            del metadata["components"]["encoder"][key]

    with caplog.at_level(logging.WARNING, logger="recgraft"):
        encoder = encoder_from_checkpoint(from_bytes(edited(trained_bytes, forget)))
    assert encoder.config.hidden_dim == 8 and caplog.text == ""


def test_a_clashing_component_says_which_plugin_the_checkpoint_needs(checkpoint_bytes, plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}", "{FIXTURES / "duplicate_toy.py"}"]\n')
    data = edited(checkpoint_bytes(strategy="finetune"),
                  recording("head", name="toy", plugin="duplicate_toy", distribution=None, version=None))
    with pytest.raises(DuplicateComponentError) as caught:
        load_recommender(data)
    assert str(caught.value) == (
        "checkpoint: head 'toy' is registered by both toy_plugin and duplicate_toy; this checkpoint needs it "
        "from plugin duplicate_toy (the local plugin duplicate_toy): disable the other in plugins.toml "
        '([plugins] disable = ["toy_plugin"])'
    )


def test_a_component_now_from_another_distribution_logs_a_warning_and_loads(trained_bytes, caplog) -> None:
    data = edited(trained_bytes, recording("encoder", plugin="lstms", distribution="recgraft-lstm", version="1.0"))
    with caplog.at_level(logging.WARNING, logger="recgraft"):
        encoder_from_checkpoint(from_bytes(data))
    assert ("encoder 'lstm': this checkpoint was written with it from the distribution recgraft-lstm 1.0, "
            f"it now comes from the distribution recgraft {__version__}") in caplog.text


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory) -> Path:
    """The toy plugin distribution (recgraft-toy 0.3.1, strategy toy-strategy), really installed into a folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(FIXTURES / "toy_dist")], check=True, capture_output=True)
    return target


def test_a_component_another_installed_version_lacks_names_the_version_to_install(
    toy_site, checkpoint_bytes, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(toy_site))
    data = edited(checkpoint_bytes(strategy="finetune"),
                  recording("strategy", name="toy-old", plugin="toy_dist", distribution="recgraft-toy", version="0.2.0"))
    with pytest.raises(MissingPluginError) as caught:
        load_recommender(data)
    assert str(caught.value) == (
        "checkpoint: unknown strategy 'toy-old': this checkpoint needs it from the distribution recgraft-toy 0.2.0; "
        "0.3.1 is installed and does not provide it (pip install recgraft-toy==0.2.0)"
    )

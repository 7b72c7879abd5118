"""Component lookup by name and config validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recgraft.components import (
    ComponentCatalog,
    ComponentEntry,
    parse_model,
    validate_config,
)
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.errors import ConfigError, PluginError, UnknownComponentError


class WidthConfig(EncoderConfig):
    width: int = 8
    dropout: float = 0.1


class Wide(Encoder):
    Config = WidthConfig


def catalog_with(*names: str) -> ComponentCatalog:
    catalog = ComponentCatalog()
    for name in names:
        catalog.add(ComponentEntry("encoder", name, "test", "builtin", "1", Wide))
    return catalog


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownComponentError, match="did you mean 'transformer'"):
        catalog_with("transformer", "lstm").get("encoder", "transfomer")


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(UnknownComponentError, match=r"known: lstm, transformer"):
        catalog_with("transformer", "lstm").get("encoder", "zzz")


def test_unknown_config_field_names_component_and_field() -> None:
    with pytest.raises(ConfigError, match=r"encoder 'wide': widht: Extra inputs are not permitted"):
        validate_config("encoder", "wide", Wide, {"widht": 3})


def test_wrong_config_type_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"encoder 'wide': width: "):
        validate_config("encoder", "wide", Wide, {"width": "many"})


def test_valid_config_is_parsed() -> None:
    assert catalog_with("wide").config("encoder", "wide", {"width": 3}).width == 3


def test_lazy_target_is_imported_on_first_use() -> None:
    catalog = ComponentCatalog()
    catalog.add(ComponentEntry("head", "dotted", "test", "builtin", "1", "recgraft.plugins.heads.dot:DotHead"))
    from recgraft.plugins.heads.dot import DotHead

    assert catalog.get("head", "dotted") is DotHead


def test_lazy_target_that_cannot_be_imported_is_a_plugin_error() -> None:
    catalog = ComponentCatalog()
    catalog.add(ComponentEntry("head", "gone", "someplugin", "local", None, "no_such_module_x:Thing"))
    with pytest.raises(PluginError, match="someplugin"):
        catalog.get("head", "gone")


def test_entry_of_a_class_of_another_kind_is_invalid_and_a_plugin_error_at_use() -> None:
    catalog = catalog_with("wide")
    catalog.add(ComponentEntry("head", "wide-head", "someplugin", "local", None, Wide))
    assert catalog.entry("head", "wide-head").status == (
        "error: Wide is not a subclass of recgraft.head.Head")
    with pytest.raises(PluginError, match=r"^head 'wide-head' from plugin someplugin is invalid: "):
        catalog.get("head", "wide-head")


def test_lazy_target_that_exits_at_import_is_a_plugin_error(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "exits_when_imported.py").write_text("import sys\nsys.exit('no\\nway')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog = ComponentCatalog()
    catalog.add(ComponentEntry("head", "gone", "someplugin", "local", None, "exits_when_imported:Head"))
    with pytest.raises(PluginError, match=r"cannot import exits_when_imported:Head: SystemExit: no way$"):
        catalog.get("head", "gone")


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.none(), st.builds(object), st.lists(st.text())))
def test_a_registered_target_of_any_shape_gets_a_one_line_status(target: object) -> None:
    entry = ComponentEntry("encoder", "x", "someplugin", "local", None, target)
    assert "\n" not in entry.status
    if entry.problem is not None:  # never imported: a malformed string or a non-class
        with pytest.raises(PluginError) as raised:
            entry.load()
        assert "\n" not in str(raised.value)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), "-inf", "NaN"])
@pytest.mark.parametrize(
    ("kind", "name", "field"),
    [("encoder", "gan", "adversarial_weight"), ("strategy", "fusion", "gate_init"),
     ("strategy", "blend", "weight_choices"), ("train", "", "learning_rate"), ("train", "", "max_minutes")],
)
def test_config_float_fields_refuse_nan_and_inf(kind: str, name: str, field: str, value: object) -> None:
    from recgraft.engine.config import TrainConfig
    from recgraft.plugin_manager import catalog

    values = {field: [value] if field == "weight_choices" else value}
    with pytest.raises(ConfigError, match=f"{field}.*finite number"):
        if kind == "train":
            parse_model("train config", TrainConfig, values)
        else:
            catalog().config(kind, name, values)


@pytest.mark.parametrize(
    ("kind", "name", "field", "value"),
    [("encoder", "transformer", "embedding_dim", 1_000_000_000), ("encoder", "transformer", "max_length", 10**9),
     ("encoder", "lstm", "hidden_dim", 10**9), ("encoder", "gan", "max_length", 10**9),
     ("head", "mlp", "hidden_dim", 10**9), ("head", "sigmoid", "chunk", 10**9),
     ("strategy", "fusion", "hidden_dim", 10**9), ("train", "", "batch_size", 10**9),
     ("train", "", "eval_batch_size", 10**9), ("train", "", "seed", 2**70), ("train", "", "seed", -1)],
)
def test_size_settings_have_upper_bounds(kind: str, name: str, field: str, value: int) -> None:
    from recgraft.engine.config import TrainConfig
    from recgraft.plugin_manager import catalog

    with pytest.raises(ConfigError, match=f"{field}: Input should be (less|greater) than or equal to"):
        if kind == "train":
            parse_model("train config", TrainConfig, {field: value})
        else:
            catalog().config(kind, name, {field: value})

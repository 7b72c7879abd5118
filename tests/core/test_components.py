"""Component lookup by name and config validation."""

from __future__ import annotations

import pytest

from recgraft.components import (
    Component,
    ComponentCatalog,
    ComponentConfig,
    ComponentEntry,
    parse_model,
    validate_config,
)
from recgraft.errors import ConfigError, PluginError, UnknownComponentError


class WidthConfig(ComponentConfig):
    width: int = 8
    dropout: float = 0.1


class Wide(Component):
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
    catalog.add(ComponentEntry("head", "ordered", "test", "builtin", "1", "collections:OrderedDict"))
    from collections import OrderedDict

    assert catalog.get("head", "ordered") is OrderedDict


def test_lazy_target_that_cannot_be_imported_is_a_plugin_error() -> None:
    catalog = ComponentCatalog()
    catalog.add(ComponentEntry("head", "gone", "someplugin", "local", None, "no_such_module_x:Thing"))
    with pytest.raises(PluginError, match="someplugin"):
        catalog.get("head", "gone")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "-inf", "NaN"])
@pytest.mark.parametrize(
    ("kind", "name", "field"),
    [("encoder", "gan", "adversarial_weight"), ("strategy", "fusion", "gate_init"),
     ("strategy", "blend", "weight_choices"), ("train", "", "learning_rate"), ("train", "", "max_minutes")],
)
def test_config_float_fields_refuse_nan_and_inf(kind: str, name: str, field: str, value: object) -> None:
    from recgraft.plugin_manager import catalog
    from recgraft.training import TrainConfig

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
    from recgraft.plugin_manager import catalog
    from recgraft.training import TrainConfig

    with pytest.raises(ConfigError, match=f"{field}: Input should be (less|greater) than or equal to"):
        if kind == "train":
            parse_model("train config", TrainConfig, {field: value})
        else:
            catalog().config(kind, name, {field: value})

"""Component lookup by name and config validation."""

from __future__ import annotations

import pytest

from recgraft.components import (
    Component,
    ComponentCatalog,
    ComponentConfig,
    ComponentEntry,
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

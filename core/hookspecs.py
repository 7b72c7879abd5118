"""The plugin contract: one hook per component kind, each taking a ``register`` callable.

A plugin implements any of these with ``@recgraft.hookimpl``. ``register(name, component)``
takes the component class, or an import string ``"package.module:ClassName"`` that is
imported only when the component is first used (so listing plugins stays fast).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("recgraft")
hookimpl = pluggy.HookimplMarker("recgraft")

Register = Callable[[str, Any], None]


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoder classes (subclasses of ``recgraft.encoder.Encoder``).

    Args:
        register: ``register(name, EncoderClass)``.
    """


@hookspec
def register_extractors(register: Register) -> None:
    """Register feature extractor classes (subclasses of ``recgraft.extractor.FeatureExtractor``).

    Args:
        register: ``register(name, ExtractorClass)``.
    """


@hookspec
def register_strategies(register: Register) -> None:
    """Register transfer strategy classes (subclasses of ``recgraft.strategy.TransferStrategy``).

    Args:
        register: ``register(name, StrategyClass)``.
    """


@hookspec
def register_heads(register: Register) -> None:
    """Register head classes (subclasses of ``recgraft.head.Head``).

    Args:
        register: ``register(name, HeadClass)``.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register data format loaders (subclasses of ``recgraft.data.loader.DatasetLoader``).

    Args:
        register: ``register(name, LoaderClass)``.
    """


@hookspec
def register_item_features(register: Register) -> None:
    """Register item feature classes (subclasses of ``recgraft.item_features.ItemFeature``): how an
    item-feature column becomes item vectors.

    Args:
        register: ``register(name, ItemFeatureClass)``.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``recgraft`` command line.

    Args:
        cli: the top-level click group; call ``cli.add_command(...)`` or decorate with ``@cli.command()``.
    """

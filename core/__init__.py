"""recgraft: pretrain recommender encoders, keep them with their lineage, graft them onto new domains.

Importing this package stays light (no torch): plugin authors need only ``hookimpl`` and
the base classes of the kind they implement, which live in their own modules.
"""

from __future__ import annotations

from recgraft.errors import (
    ConfigError,
    DataError,
    DuplicateComponentError,
    PluginError,
    RecgraftError,
    UnknownComponentError,
)
from recgraft.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "DuplicateComponentError",
    "PluginError",
    "RecgraftError",
    "UnknownComponentError",
    "__version__",
    "hookimpl",
]

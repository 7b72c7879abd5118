"""Built-in data formats: ``csv``, ``atomic`` (RecBole atomic files) and ``movielens``.

Loaders are registered as import strings, so listing plugins never imports pandas.
"""

from __future__ import annotations

from recgraft.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    register("atomic", "recgraft.plugins.datasets.atomic:AtomicLoader")
    register("csv", "recgraft.plugins.datasets.csv:CSVLoader")
    register("movielens", "recgraft.plugins.datasets.movielens:MovieLensLoader")

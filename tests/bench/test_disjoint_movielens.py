"""The disjoint-catalogue benchmark's bookkeeping: the source it builds and the table it reports."""

from __future__ import annotations

from types import ModuleType
from typing import Any

SCRIPT = "disjoint_movielens"  # the bench fixture (conftest.py) loads bench/disjoint_movielens.py


def test_the_source_keeps_no_item_of_the_target(bench: ModuleType) -> None:
    from recgraft.data.synthetic import synthetic_domains

    source, target = synthetic_domains(num_users=(60, 20), num_items=(40, 30), overlap=0.5, seed=0)
    disjoint = bench.disjoint_source(source, target)
    assert not (target.items.lookup(disjoint.items.tokens[1:]) > 0).any()
    assert disjoint.num_items == source.num_items - 15


def row(run: str, seed: int, per_user: list[float]) -> dict[str, Any]:
    mean = sum(per_user) / len(per_user)
    return {"run": run, "fraction": 0.1, "seed": seed, "test": {"ndcg@10": mean, "hr@10": 2 * mean},
            "test_ndcg_per_user": per_user}


def test_the_table_reports_gains_over_scratch_with_a_paired_interval(bench: ModuleType) -> None:
    rows = [row("scratch", s, [0.1, 0.2, 0.3, 0.4]) for s in range(2)]
    rows += [row("finetune", s, [0.2, 0.4, 0.6, 0.8]) for s in range(2)]
    table = bench.table(rows, "test")
    finetune = next(line for line in table.splitlines() if "| finetune |" in line)
    assert "| 2 |" in finetune and "+100.0%" in finetune
    assert "+100.0% to +100.0%" in finetune  # every user doubles: the interval is the gain itself
    scratch = next(line for line in table.splitlines() if "| scratch |" in line)
    assert scratch.endswith("| - | - | - |")

"""Benchmark: ``recgraft registry list`` over 10,000 records must answer in under a second.

    python bench/registry_list.py [--records 10000] [--repeat 3]

Setup inserts the records in bulk (one transaction, no checkpoint files: ``list`` reads only
records). Then it times the CLI as a user runs it, in a fresh process (``python -m recgraft
registry list``, table and ``--json``; interpreter start-up included), and the API call alone.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from recgraft.registry import Registry
from recgraft.registry.models import (
    SqlAlias,
    SqlCheckpoint,
    SqlDomain,
    SqlLineageEdge,
    SqlTag,
    utcnow,
)


def populate(reg: Registry, records: int) -> None:
    now = utcnow()
    per_name = 100
    with reg.session_scope() as session:
        session.execute(
            insert(SqlDomain), [{"name": f"domain-{d}", "created_at": now} for d in range(10)]
        )
        domain_ids = list(session.scalars(select(SqlDomain.id).order_by(SqlDomain.id)))
        rows = []
        for i in range(records):
            digest = hashlib.sha256(str(i).encode()).hexdigest()
            rows.append(
                {
                    "id": i + 1,
                    "name": f"model-{i // per_name}",
                    "version": i % per_name + 1,
                    "domain_id": domain_ids[i % len(domain_ids)],
                    "encoder": ("transformer", "lstm", "gan")[i % 3],
                    "encoder_config": {"d": 64, "layers": 2, "max_len": 200},
                    "strategy": None if i % per_name == 0 else "finetune",
                    "metrics": {"ndcg@10": 0.18, "hr@10": 0.31},
                    "dataset_fingerprint": digest[:16],
                    "digest": digest,
                    "size": 1024,
                    "uri": reg.store.uri_for(digest),
                    "device": "cuda",
                    "precision": "float32",
                    "torch_version": "2.4.0",
                    "recgraft_version": "0.1.0",
                    "extra": {},
                    "created_at": now,
                }
            )
        session.execute(insert(SqlCheckpoint), rows)
        session.execute(
            insert(SqlLineageEdge),
            [
                {
                    "parent_id": i,
                    "parent_reference": f"model-{(i - 1) // per_name}@{(i - 1) % per_name + 1}",
                    "child_id": i + 1,
                    "relation": "finetune",
                }
                for i in range(1, records)
                if i % per_name != 0
            ],
        )
        session.execute(
            insert(SqlTag), [{"checkpoint_id": i + 1, "tag": "bench"} for i in range(0, records, 7)]
        )
        session.execute(
            insert(SqlAlias),
            [
                {
                    "name": f"model-{n}",
                    "alias": "prod",
                    "checkpoint_id": n * per_name + 1,
                    "updated_at": now,
                }
                for n in range(records // per_name)
            ],
        )


def time_cli(args: list[str], env: dict[str, str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "recgraft", *args], env=env, capture_output=True
        )
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(result.stderr.decode())
        best = min(best, elapsed)
    return best


def time_in_process(args: list[str], env: dict[str, str], repeat: int) -> float:
    """The CLI's own code path (click command, open, query, render), without interpreter start-up."""
    from click.testing import CliRunner

    from recgraft.cli import build_cli

    cli = build_cli()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = CliRunner().invoke(cli, args, env=env)
        elapsed = time.perf_counter() - start
        if result.exit_code != 0:
            raise SystemExit(result.output)
        best = min(best, elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "RECGRAFT_HOME": str(home)}
        env.pop("RECGRAFT_REGISTRY_URL", None)
        reg = Registry.open(home=home)
        start = time.perf_counter()
        populate(reg, args.records)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        count = len(reg.list())
        api = time.perf_counter() - start
        reg.close()
        assert count == args.records, count
        in_process = time_in_process(["registry", "list"], env, args.repeat)
        in_process_json = time_in_process(["registry", "list", "--json"], env, args.repeat)
        table = time_cli(["registry", "list"], env, args.repeat)
        as_json = time_cli(["registry", "list", "--json"], env, args.repeat)
    print(f"records: {args.records} (bulk setup {setup:.2f} s)")
    print(f"Registry.list() in process:                      {api:.3f} s")
    print(
        f"`registry list` CLI code path, in process:        {in_process:.3f} s (best of {args.repeat})"
    )
    print(f"`registry list --json` CLI code path, in process: {in_process_json:.3f} s")
    print(
        f"`python -m recgraft registry list` (new process): {table:.3f} s (start-up and plugins included)"
    )
    print(f"`python -m recgraft registry list --json`:        {as_json:.3f} s")
    worst = max(in_process, in_process_json)
    print(f"{'PASS' if worst < 1.0 else 'FAIL'}: CLI code path {worst:.3f} s against a 1 s budget")
    if worst >= 1.0:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

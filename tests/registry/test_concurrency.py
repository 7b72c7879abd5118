"""Real processes on a real database (SQLite file, PostgreSQL server): concurrent writers,
and a crash before the commit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recgraft.registry import Registry
from recgraft.registry.files.base import uri_to_path

# Builds a small valid checkpoint in the worker processes (as tests/conftest.py's fake_checkpoint).
CHECKPOINT = textwrap.dedent(
    """
    import json
    import numpy as np
    from safetensors.numpy import save

    def checkpoint(payload):
        meta = {"format": "recgraft/1", "components": {"encoder": {"name": "transformer", "config": {}}},
                "items": ["[PAD]", "i1"]}
        tensors = {"encoder.payload": np.frombuffer(payload, dtype=np.uint8).copy()}
        return save(tensors, metadata={"recgraft": json.dumps(meta)})
    """
)

WORKER = CHECKPOINT + textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from recgraft.registry import Registry

    url, store, go, worker = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    reg = Registry.open(url=url, store=store)   # 8 processes open a fresh database at once
    for i in range(25):
        reg.register("shared", checkpoint(f"worker {worker} item {i}".encode()), domain="ml-1m",
                     encoder="transformer", encoder_config={"worker": worker, "i": i})
    reg.close()
    """
)


def test_eight_processes_never_share_or_skip_a_version(
    tmp_path: Path, new_database_url: Callable[[str], str]
) -> None:
    url = new_database_url("registry")
    store = tmp_path / "checkpoints"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(store), str(go), str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(8)
    ]
    time.sleep(0.3)
    go.touch()
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for code, err in results:
        assert code == 0, err
        assert "locked" not in err
    with Registry.open(url=url, store=store) as reg:
        records = reg.list(name="shared")
        versions = sorted(r.version for r in records)
        assert versions == list(range(1, 201))
        assert len({(r.encoder_config["worker"], r.encoder_config["i"]) for r in records}) == 200
        assert reg.verify().ok


CRASHER = CHECKPOINT + textwrap.dedent(
    """
    import sys
    from recgraft.registry import Registry

    reg = Registry.open(url=sys.argv[1], store=sys.argv[2])
    reg.register("victim", checkpoint(b"never committed"), domain="ml-1m", encoder="transformer", encoder_config={})
    print("not reached")
    """
)


KILL_AT = Path(__file__).parents[1] / "kill_at.py"


def test_crash_between_file_and_commit_leaves_only_an_orphan(make: Any, registry: Registry) -> None:
    make(registry, "survivor")
    result = subprocess.run(  # killed before the commit of its one write transaction
        [sys.executable, str(KILL_AT), "sqlalchemy.orm:Session.commit", "before", "1", "--",
         "-c", CRASHER, registry.url, str(registry.store.root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 86 and "not reached" not in result.stdout
    # No record points at a missing file; the file itself is there, unreferenced.
    assert [r.name for r in registry.list()] == ["survivor"]
    for record in registry.list():
        assert uri_to_path(record.uri).is_file()
    report = registry.verify()
    assert len(report.orphans) == 1 and not report.ok and report.missing == []
    assert uri_to_path(report.orphans[0]).read_bytes().endswith(b"never committed")
    # The CLI's `verify --clean` removes it.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "recgraft",
            "registry",
            "verify",
            "--clean",
            "--json",
            "--registry",
            registry.url,
        ],
        env={**os.environ, "RECGRAFT_CHECKPOINTS": str(registry.store.root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert '"removed_orphans"' in cli.stdout
    assert not uri_to_path(report.orphans[0]).exists()
    assert registry.verify().ok
    assert make(registry, "victim").version == 1  # the rolled-back version is free again

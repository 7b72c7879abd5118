"""Run ``recgraft ARGS...`` and kill the process (``os._exit(77)``) at one point: the
fault-injection tests' runner. The patches live here, so production code has no crash hooks.

Usage: ``python crashing_run.py POINT ARGS...`` where POINT is

- ``after-resume-save:N``: right after pretraining wrote the resume file of epoch N;
- ``in-resume-save:N``: inside the Nth ``os.replace`` (the Nth resume save of a pretraining
  run: its tmp file written, not yet renamed);
- ``after-epoch:N``: after transfer training's epoch N (its losses checked);
- ``after-register``: right after the registry committed the record, before the run cleans up;
- ``none``: no patch (a crash inside registration comes from the registry's own seam,
  ``RECGRAFT_REGISTRY_TEST_CRASH=before-commit``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from recgraft import resume, transfer_training
from recgraft.registry import Registry

KILLED = 77


def die_after(owner: Any, name: str, when: Callable[..., bool]) -> None:
    """Replace ``owner.name`` by a wrapper that calls it, then dies when ``when(*args)`` holds."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            os._exit(KILLED)
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    point, _, value = sys.argv[1].partition(":")
    if point == "after-resume-save":
        die_after(resume, "save", lambda path, state: state["epoch"] == int(value))
    elif point == "in-resume-save":
        calls = []

        def replace(*args: Any) -> None:
            calls.append(args)
            if len(calls) == int(value):
                os._exit(KILLED)
            real_replace(*args)

        real_replace, os.replace = os.replace, replace
    elif point == "after-epoch":
        die_after(transfer_training, "check_losses", lambda epoch, losses: epoch == int(value))
    elif point == "after-register":
        die_after(Registry, "register", lambda *args, **kwargs: True)
    elif point != "none":
        raise SystemExit(f"unknown crash point {point!r}")
    from recgraft.cli import main as recgraft

    sys.argv = ["recgraft", *sys.argv[2:]]
    recgraft()


if __name__ == "__main__":
    main()

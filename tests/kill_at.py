"""The tests' one fault-injection runner: run the ``recgraft`` CLI (or Python code) and die
(``os._exit(86)``) at a chosen point.

``python kill_at.py TARGET WHEN N -- ARGS...`` wraps the callable TARGET (``module:Qual.name``)
so that its N-th call (1-based) ends the process ``before`` it runs or ``after`` it returns,
as a power cut or a ``kill -9`` would, without running any cleanup; then it runs
``recgraft ARGS...``, or, with ``-- -c CODE ARGS...``, the Python CODE with ``sys.argv`` set to
``["-c", *ARGS]``. The production code has no hook for this: the tests own the seam.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from typing import Any

KILLED = 86


def _install(target: str, when: str, nth: int) -> None:
    module_name, _, qualname = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, attr)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            os._exit(KILLED)
        result = original(*args, **kwargs)
        if calls == nth and when == "after":
            os._exit(KILLED)
        return result

    setattr(owner, attr, wrapper)


def main() -> None:
    target, when, nth, sep, *args = sys.argv[1:]
    assert sep == "--" and when in ("before", "after"), sys.argv
    _install(target, when, int(nth))
    if args[:1] == ["-c"]:
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<kill_at -c>", "exec"), {"__name__": "__main__"})
        return
    from recgraft.cli import build_cli

    build_cli().main(args=args, prog_name="recgraft", standalone_mode=True)


if __name__ == "__main__":
    main()

"""The rich consoles the commands print through.

Off a terminal (a pipe, a file, a CI log) rich would hard-wrap every line at 80 columns,
mid-sentence; there these consoles never wrap: one message, one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from recgraft.progress import Progress


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that wraps lines only on a terminal."""
    from rich.console import Console

    terminal = Console(stderr=stderr)
    if terminal.is_terminal:
        return terminal
    return Console(stderr=stderr, soft_wrap=True)


def progress(enabled: bool = True) -> Progress:
    """A :class:`~recgraft.progress.Progress` whose log lines go through :func:`console` on stderr."""
    from recgraft.progress import Progress

    reporter = Progress(enabled=enabled)
    if enabled:
        reporter._console = console(stderr=True)
    return reporter

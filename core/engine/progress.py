"""Progress on stderr: a bar per epoch with the running loss, and one log line per epoch."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


class Progress:
    """Shows progress on stderr (rich bars on a terminal, plain lines otherwise), or nothing."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._console = None
        if enabled:
            from rich.console import Console

            # Off a terminal (a pipe, a file, a CI log) rich would hard-wrap each line at 80
            # columns, mid-sentence: there one message stays one line.
            console = Console(stderr=True)
            self._console = console if console.is_terminal else Console(stderr=True, soft_wrap=True)

    def log(self, message: str) -> None:
        if self._console is not None:
            self._console.print(message, highlight=False)

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int, dict[str, float]], None]]:
        """A context yielding ``advance(steps, losses)``."""
        if self._console is None or not sys.stderr.isatty():
            yield lambda steps, losses: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        with RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"), TimeRemainingColumn(),
            console=self._console, transient=True,
        ) as bar:
            task = bar.add_task(description, total=total, losses="")

            def advance(steps: int, losses: dict[str, float]) -> None:
                text = " ".join(f"{k} {v:.4f}" for k, v in losses.items())
                bar.update(task, advance=steps, losses=text)

            yield advance

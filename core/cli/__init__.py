"""The ``recgraft`` command line: a thin layer over the Python API.

Commands import heavy modules (torch) inside their bodies, so ``recgraft --help`` and the
commands that need no model start fast. Every user error becomes one line on stderr and
exit code 2. Under torchrun any failure is one line naming the process, exit code 1 for
anything but a user error.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from recgraft import __version__
from recgraft.errors import RecgraftError

# Built-in command modules; each exposes ``commands``, a list of click commands.
COMMAND_MODULES: tuple[str, ...] = (
    "recgraft.cli.plugins",
    "recgraft.cli.data",
    "recgraft.cli.pretrain",
    "recgraft.cli.transfer",
    "recgraft.cli.evaluate",
    "recgraft.cli.recommend",
    "recgraft.cli.registry",
    "recgraft.cli.demo",
    "recgraft.cli.serve",
    "recgraft.cli.export",
)


class RecgraftGroup(click.Group):
    """A click group that turns recgraft's errors into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RecgraftError as exc:
            raise UserError(_in_job(str(exc))) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            # The registry has its own error hierarchy (it does not import core).
            from recgraft.registry.errors import RegistryError

            if isinstance(exc, RegistryError):
                raise UserError(_in_job(str(exc))) from None
            if "WORLD_SIZE" in os.environ:  # under torchrun: a line, not a traceback per process
                from recgraft.distributed import PeerFailure

                detail = str(exc) if isinstance(exc, PeerFailure) else f"failed: {type(exc).__name__}: {exc}"
                raise ProcessFailed(f"{_process()} {' '.join(detail.split())}") from None
            raise


def _process() -> str:
    """Which process of a torchrun job this is: ``rank R of N``."""
    return f"rank {os.environ.get('RANK', '?')} of {os.environ.get('WORLD_SIZE', '?')}"


def _in_job(message: str) -> str:
    """The message on one line (a user's value may hold line breaks); under torchrun with several
    processes, it names the process it comes from."""
    message = " ".join(message.splitlines())
    return f"{_process()}: {message}" if os.environ.get("WORLD_SIZE", "1") != "1" else message


class UserError(click.ClickException):
    """A user error raised by a command: printed as one line, exit code 2."""

    exit_code = 2


class ProcessFailed(click.ClickException):
    """A process of a torchrun job failed (or stopped because another did): one line, exit code 1."""

    exit_code = 1


def build_cli() -> click.Group:
    """A fresh CLI: built-in commands plus those that plugins add through ``register_commands``."""
    import importlib

    from recgraft.plugin_manager import add_commands, load_plugins

    @click.group(cls=RecgraftGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "--version", prog_name="recgraft")
    def cli() -> None:
        """Pretrain recommender encoders, keep them in a registry, graft them onto new domains."""

    for module_name in COMMAND_MODULES:
        for command in importlib.import_module(module_name).commands:
            cli.add_command(command)
    try:
        system = load_plugins()
    except RecgraftError:
        return cli  # a broken plugins.toml: the commands that need plugins report it
    add_commands(system, cli)  # a plugin's failure or conflict is recorded, never raised
    return cli


def main() -> None:
    """Console-script entry point."""
    group = build_cli()
    sys.exit(group.main(prog_name="recgraft", standalone_mode=True))

"""A plugin that replaces the built-in ``registry`` command and removes ``data``, beside a
new command of its own."""

import click

from recgraft import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("registry")
    def fake_registry():
        """Pretends to be the registry."""
        click.echo("hijacked")

    cli.commands.pop("data")

    @cli.command("override-hello")
    def override_hello():
        """A new command: still added."""
        click.echo("hello from overrides_builtin")

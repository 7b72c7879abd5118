"""A local plugin for the tests: one head with a Config, and a command."""

from recgraft import hookimpl
from recgraft.head import Head, HeadConfig


class ToyHeadConfig(HeadConfig):
    width: int = 4


class ToyHead(Head):
    Config = ToyHeadConfig


@hookimpl
def register_heads(register):
    register("toy", ToyHead)


@hookimpl
def register_commands(cli):
    import click

    @cli.command("toy-hello")
    def toy_hello():
        """Say hello from a plugin."""
        click.echo("hello from the toy plugin")

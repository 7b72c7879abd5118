"""A plugin whose register_commands hook adds a command, then raises."""

from recgraft import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("half-added")
    def half_added():
        """Never reachable: the hook fails after adding it."""

    raise RuntimeError("commands failed on purpose")

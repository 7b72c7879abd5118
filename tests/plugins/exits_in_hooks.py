"""A plugin whose hooks end the process: SystemExit while registering, a bare BaseException
while adding commands."""

from recgraft import hookimpl


class Stop(BaseException):
    """Neither an Exception nor KeyboardInterrupt."""


@hookimpl
def register_heads(register):
    raise SystemExit(4)


@hookimpl
def register_commands(cli):
    raise Stop("stopped on purpose")

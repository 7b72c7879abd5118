"""A plugin whose register hook raises."""

from recgraft import hookimpl


@hookimpl
def register_heads(register):
    raise RuntimeError("registration failed on purpose")

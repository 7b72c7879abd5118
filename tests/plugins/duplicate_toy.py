"""A plugin that registers a head under the name the toy plugin uses."""

from recgraft import hookimpl
from recgraft.head import Head


class OtherToyHead(Head):
    pass


@hookimpl
def register_heads(register):
    register("toy", OtherToyHead)

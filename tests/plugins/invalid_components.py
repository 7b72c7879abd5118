"""A plugin that registers things that are not components, and one valid head.

Loaded as a module (``modules = ["invalid_components"]``) so that its import strings resolve.
"""

from pydantic import BaseModel

from recgraft import hookimpl
from recgraft.components import Component
from recgraft.encoder import Encoder
from recgraft.head import Head, HeadConfig


def make_encoder(config, num_items):
    """A function, not a class."""


class NotAnEncoder(Component):
    """A component, but of no encoder's kind."""


class LooseConfig(BaseModel):
    """A pydantic model that is not a ComponentConfig (it would ignore typos)."""


class BadConfigEncoder(Encoder):
    Config = LooseConfig


class NoConfigClassEncoder(Encoder):
    Config = None


class FineHeadConfig(HeadConfig):
    width: int = 2


class FineHead(Head):
    Config = FineHeadConfig


@hookimpl
def register_encoders(register):
    register("function-encoder", make_encoder)
    register("instance-encoder", NotAnEncoder())
    register("wrong-base-encoder", NotAnEncoder)
    register("bad-config-encoder", BadConfigEncoder)
    register("none-config-encoder", NoConfigClassEncoder)
    register("lazy-function-encoder", "invalid_components:make_encoder")
    register("malformed-string-encoder", "invalid_components.make_encoder")


@hookimpl
def register_heads(register):
    register("fine", FineHead)
    register("lazy-fine", "invalid_components:FineHead")

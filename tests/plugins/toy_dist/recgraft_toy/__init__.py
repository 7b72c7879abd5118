"""A third-party plugin distribution for the tests, found through its entry point."""

from recgraft import hookimpl
from recgraft.components import Component, ComponentConfig


class ToyStrategyConfig(ComponentConfig):
    rate: float = 0.5


class ToyStrategy(Component):
    Config = ToyStrategyConfig


@hookimpl
def register_strategies(register):
    register("toy-strategy", ToyStrategy)

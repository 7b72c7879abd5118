"""A third-party plugin distribution for the tests, found through its entry point.

Its strategy is registered as an import string, so listing plugins never imports torch.
"""

from recgraft import hookimpl


@hookimpl
def register_strategies(register):
    register("toy-strategy", "recgraft_toy.strategy:ToyStrategy")

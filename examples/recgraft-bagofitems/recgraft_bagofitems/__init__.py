"""recgraft-bagofitems: registers the ``bag`` encoder and the ``embeddings-only`` strategy.

Components are registered as import strings, so ``recgraft plugins list`` stays fast:
torch is imported only when a component is used.
"""

from recgraft import hookimpl


@hookimpl
def register_encoders(register):
    register("bag", "recgraft_bagofitems.encoder:BagOfItemsEncoder")


@hookimpl
def register_strategies(register):
    register("embeddings-only", "recgraft_bagofitems.strategy:EmbeddingsOnlyStrategy")

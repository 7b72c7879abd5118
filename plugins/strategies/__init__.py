"""Built-in transfer strategies: ``direct``, ``fusion``, ``finetune``, ``blend`` and the ``scratch`` baseline."""

from recgraft import hookimpl


@hookimpl
def register_strategies(register):
    register("direct", "recgraft.plugins.strategies.direct:DirectStrategy")
    register("fusion", "recgraft.plugins.strategies.fusion:FusionStrategy")
    register("finetune", "recgraft.plugins.strategies.finetune:FinetuneStrategy")
    register("scratch", "recgraft.plugins.strategies.scratch:ScratchStrategy")
    register("blend", "recgraft.plugins.strategies.blend:BlendStrategy")

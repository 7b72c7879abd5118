"""Built-in heads: ``dot`` (user vector against item embeddings), ``sigmoid`` (binary), ``mlp``."""

from recgraft import hookimpl


@hookimpl
def register_heads(register):
    register("dot", "recgraft.plugins.heads.dot:DotHead")
    register("sigmoid", "recgraft.plugins.heads.sigmoid:SigmoidHead")
    register("mlp", "recgraft.plugins.heads.mlp:MLPHead")

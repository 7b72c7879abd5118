"""Built-in item features: ``tokens`` (categories and token sequences: genres), ``number`` (a year:
bucketed or normalised), ``text`` (hashed words and character n-grams: titles; nothing
downloaded) and ``vectors`` (dense vectors computed elsewhere, e.g. sentence embeddings)."""

from recgraft import hookimpl


@hookimpl
def register_item_features(register):
    register("tokens", "recgraft.plugins.item_features.tokens:TokensFeature")
    register("number", "recgraft.plugins.item_features.number:NumberFeature")
    register("text", "recgraft.plugins.item_features.text:TextFeature")
    register("vectors", "recgraft.plugins.item_features.vectors:VectorsFeature")

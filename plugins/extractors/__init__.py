"""Built-in feature extractors: ``global`` (the user vector), ``local`` (hidden layers), ``concat``."""

from recgraft import hookimpl


@hookimpl
def register_extractors(register):
    register("global", "recgraft.plugins.extractors.global_vector:GlobalExtractor")
    register("local", "recgraft.plugins.extractors.local:LocalExtractor")
    register("concat", "recgraft.plugins.extractors.concat:ConcatExtractor")

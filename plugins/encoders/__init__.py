"""Built-in encoders: ``transformer`` (SASRec-style), ``lstm`` (GRU4Rec-style), ``gan`` (CFGAN-style)."""

from recgraft import hookimpl


@hookimpl
def register_encoders(register):
    register("transformer", "recgraft.plugins.encoders.transformer:TransformerEncoder")
    register("lstm", "recgraft.plugins.encoders.lstm:LSTMEncoder")
    register("gan", "recgraft.plugins.encoders.gan:GANEncoder")

"""Built-in encoders: ``transformer`` (SASRec-style), ``lstm`` (GRU4Rec-style), ``gan`` (CFGAN-style), and the
closed-form non-sequential baselines ``popular``, ``ease`` and ``itemknn``, and ``bpr`` (BPR-MF, users as their histories)."""

from recgraft import hookimpl


@hookimpl
def register_encoders(register):
    register("transformer", "recgraft.plugins.encoders.transformer:TransformerEncoder")
    register("lstm", "recgraft.plugins.encoders.lstm:LSTMEncoder")
    register("gan", "recgraft.plugins.encoders.gan:GANEncoder")
    register("popular", "recgraft.plugins.encoders.baselines:PopularEncoder")
    register("ease", "recgraft.plugins.encoders.baselines:EASEEncoder")
    register("itemknn", "recgraft.plugins.encoders.baselines:ItemKNNEncoder")
    register("bpr", "recgraft.plugins.encoders.bpr:BPREncoder")

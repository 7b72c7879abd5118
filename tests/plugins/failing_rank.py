"""A local plugin for the torchrun tests: a transformer that fails on rank 1 once it is evaluated."""

import os

from recgraft import hookimpl
from recgraft.plugins.encoders.transformer import TransformerEncoder


class FailsOnRankOne(TransformerEncoder):
    """Trains like the transformer; scoring a user on rank 1 (the first validation) raises."""

    def forward(self, history):
        if os.environ.get("RANK") == "1" and not self.training:
            raise RuntimeError("injected failure on rank 1")
        return super().forward(history)


@hookimpl
def register_encoders(register):
    register("fails-on-rank-1", FailsOnRankOne)

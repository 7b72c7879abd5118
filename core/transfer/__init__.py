"""Transfer: graft a pretrained encoder onto a target domain, train it there, compare with scratch.

    from recgraft.transfer import Transfer, compare_with_scratch

    t = Transfer.from_checkpoint(registry, "ml-1m-transformer", strategy="finetune",
                                 extractor="global", head="dot", align_on="movie_title")
    result = t.fit(target_split, train=TrainConfig(epochs=50), device="cpu")
    result.evaluate("test", breakdown=True)
    compare_with_scratch(result).gain        # {"ndcg@10": 0.31, ...}
    result.recommend(["Toy Story (1995)", "Heat (1995)"], k=10)
    result.register(registry, name="ml-100k-finetune")

The pipeline (:mod:`.pipeline`), item alignment (:mod:`.alignment`), transfer training as
a phase of the engine's loop (:mod:`.training`) and the scratch baseline (:mod:`.baseline`).
"""

from __future__ import annotations

from recgraft.checkpoint.modules import transfer_model_from_checkpoint as model_from_contents
from recgraft.transfer.baseline import ScratchComparison, compare_with_scratch, relative_gain
from recgraft.transfer.pipeline import (
    KIND,
    SourceModel,
    Transfer,
    TransferResult,
    default_name,
    source_windows,
)

__all__ = [
    "KIND",
    "ScratchComparison",
    "SourceModel",
    "Transfer",
    "TransferResult",
    "compare_with_scratch",
    "default_name",
    "model_from_contents",
    "relative_gain",
    "source_windows",
]

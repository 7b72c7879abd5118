"""One process of a 2-process gloo group, started by tests/core/test_distributed.py.

It is given the variables torchrun sets (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT), runs the distributed helpers, evaluation and the training loops inside
``recgraft.distributed.session``, and saves what it saw to ``OUT/rank{RANK}.pt`` for the
test to compare across the two processes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from recgraft import distributed
from recgraft.data.split import leave_one_out, make_split
from recgraft.data.synthetic import synthetic_domains
from recgraft.encoder import Encoder
from recgraft.engine.batching import NextItemExamples
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import seed_everything
from recgraft.engine.evaluation import evaluate
from recgraft.objective import PretrainingObjective, next_item_loss
from recgraft.pretrain import PretrainingPhase, build_encoder, fit
from recgraft.transfer import SourceModel, Transfer

CPU = torch.device("cpu")
ENCODERS = {
    "transformer": {"embedding_dim": 16, "num_heads": 1, "max_length": 10},
    "lstm": {"embedding_dim": 16, "hidden_dim": 16, "max_length": 10},
    "gan": {"embedding_dim": 16, "hidden_dim": 16, "discriminator_dim": 16, "max_length": 10},
}


class UnwrappedObjective(PretrainingObjective):
    """Next-item training that calls the loss directly, never ``self.parallel``."""

    def __init__(self, encoder: Encoder, train: TrainConfig) -> None:
        super().__init__(encoder, train)
        self.optimizer = torch.optim.Adam(encoder.parameters(), lr=train.learning_rate)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = next_item_loss(self.encoder, batch.inputs, batch.targets)
        loss.backward()
        self.optimizer.step()  # averaged just before the step
        return {"loss": float(loss.detach())}


def main(out: Path) -> None:
    source, target = synthetic_domains(num_users=(90, 40), num_items=(50, 40), seed=1)
    split = leave_one_out(source)
    with distributed.session("cpu"):
        rank = distributed.rank()
        seen: dict[str, object] = {"rank": rank, "world_size": distributed.world_size()}

        seed_everything(0)
        encoder = build_encoder("transformer", ENCODERS["transformer"], split.domain.num_items).eval()

        def score(histories: torch.Tensor) -> torch.Tensor:
            return encoder.score_items(encoder(histories))

        seen["evaluation"] = (
            evaluate(score, split, "test", 10, CPU, batch_size=7, breakdown=True, trim_padding=True),
            evaluate(score, split, "test", 10, CPU, batch_size=7, breakdown=True, trim_padding=True,
                     shard=distributed.evaluation_shard()),
        )
        ratio = make_split(source, "ratio:0.6,0.2,0.2", seed=0)  # several held-out items per user
        seen["evaluation_ratio"] = (
            evaluate(score, ratio, "test", 10, CPU, batch_size=7, breakdown=True, trim_padding=True),
            evaluate(score, ratio, "test", 10, CPU, batch_size=7, breakdown=True, trim_padding=True,
                     shard=distributed.evaluation_shard()),
        )
        seen["average"] = distributed.average({"loss": float(rank), "count": 2.0})
        seen["any_process"] = distributed.any_process(rank == 1)
        seen["share"] = distributed.share(lambda: f"read on rank {rank}")
        seen["on_main"] = distributed.on_main(lambda: f"opened on rank {rank}")

        both = torch.nn.Parameter(torch.zeros(3))
        one = torch.nn.Parameter(torch.zeros(2))
        neither = torch.nn.Parameter(torch.zeros(1))
        both.grad = torch.full((3,), float(rank + 1))
        one.grad = torch.ones(2) if rank == 1 else None
        distributed.average_gradients([both, one, neither])
        seen["gradients"] = (both.grad, one.grad, neither.grad)

        replica = torch.full((2,), float(rank))
        distributed.replicate([replica])
        seen["replicate"] = replica

        train = TrainConfig(epochs=3, batch_size=16, learning_rate=5e-3, patience=10, clip_grad_norm=1.0)
        for name, config in ENCODERS.items():
            seed_everything(rank)  # different starts on purpose: fit starts every process from rank 0's
            model = build_encoder(name, config, split.domain.num_items)
            result = fit(model, split, train, CPU)
            seen[f"fit-{name}"] = (result.history, result.valid, result.processes, model.state_dict())

        # What trains is wrapped in DistributedDataParallel: one loss per optimiser.
        for name, config in ENCODERS.items():
            phase = PretrainingPhase(build_encoder(name, config, split.domain.num_items), split, train, CPU)
            seen[f"ddp-{name}"] = [distributed.uses_data_parallel(m) for m in phase.objective.parallel_modules]

        # An objective that wraps nothing (a plugin written before DDP) still trains one model.
        seed_everything(rank)
        model = build_encoder("transformer", ENCODERS["transformer"], split.domain.num_items)
        result = fit(model, split, train, CPU, objective=UnwrappedObjective(model, train))
        seen["fit-unwrapped"] = (result.history, result.valid, result.processes, model.state_dict())

        # Resume: each process is given its own path; only rank 0 writes, every process resumes from it.
        resume = out / f"resume-rank{rank}.pt"

        def interrupt(epoch: int, record: dict[str, float]) -> None:
            if epoch == 2:
                raise KeyboardInterrupt

        for on_epoch in (interrupt, None):
            seed_everything(0)
            model = build_encoder("transformer", ENCODERS["transformer"], split.domain.num_items)
            try:
                result = fit(model, split, train, CPU, resume_path=resume, on_epoch=on_epoch)
            except KeyboardInterrupt:
                seen["resume-written"] = resume.exists()
        seen["resume"] = ([record["epoch"] for record in result.history], model.state_dict())

        for strategy in ("finetune", "direct"):  # direct trains its head on cached features
            seed_everything(0)
            pretrained = build_encoder("transformer", ENCODERS["transformer"], split.domain.num_items)
            graft = Transfer(SourceModel(pretrained, "transformer", source.items), strategy=strategy)
            result = graft.fit(target, {"epochs": 2, "batch_size": 16, "learning_rate": 5e-3}, device="cpu")
            seen[f"transfer-{strategy}"] = (result.training.history, result.evaluate("test"),
                                            result.model.state_dict())
        if rank == 0:  # rank 0 still working (say, registering) when rank 1's block has ended
            time.sleep(1.0)
        seen["block_ended"] = time.time()
    seen["left"] = time.time()
    torch.save(seen, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

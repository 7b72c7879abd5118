"""Data-parallel helpers: sharding, the single-process identities, and a real 2-process gloo group."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recgraft import distributed
from recgraft.engine import device as devices
from recgraft.engine.batching import batches, shard_indices

WORKER = Path(__file__).parent / "gloo_worker.py"


@pytest.mark.parametrize(("rows", "world_size"), [(10, 2), (11, 2), (7, 3), (2, 4), (1, 3)])
def test_shards_cover_every_row_with_equal_sizes(rows: int, world_size: int) -> None:
    order = torch.randperm(rows, generator=torch.Generator().manual_seed(0))
    shards = [shard_indices(order, rank, world_size) for rank in range(world_size)]
    per_process = -(-rows // world_size)
    assert [len(s) for s in shards] == [per_process] * world_size
    assert set(torch.cat(shards).tolist()) == set(range(rows))
    # Padding wraps around: only ceil(rows / world) * world - rows rows appear twice.
    assert len(torch.cat(shards)) - rows == per_process * world_size - rows


def test_one_process_takes_the_whole_order() -> None:
    order = torch.randperm(9)
    assert torch.equal(shard_indices(order, 0, 1), order)
    assert shard_indices(torch.zeros(0, dtype=torch.long), 1, 2).numel() == 0


def test_batches_of_several_processes_are_one_shuffle_split() -> None:
    def shard(rank: int) -> list[torch.Tensor]:
        return batches(50, 8, torch.Generator().manual_seed(3), torch.device("cpu"), rank, 2)

    single = torch.cat(batches(50, 8, torch.Generator().manual_seed(3), torch.device("cpu")))
    first, second = shard(0), shard(1)
    assert len(first) == len(second) == 4  # 25 rows each: the same number of steps everywhere
    assert torch.equal(torch.cat(first), single[0::2]) and torch.equal(torch.cat(second), single[1::2])


def test_without_torchrun_every_helper_is_the_single_process_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched() and not distributed.active()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (0, 1, True)
    assert distributed.evaluation_shard() is None
    assert distributed.share(lambda: 41) == 41 and distributed.on_main(lambda: "x") == "x"
    assert distributed.average({"loss": 2.5}) == {"loss": 2.5}
    assert distributed.any_process(True) and not distributed.any_process(False)
    param = torch.nn.Parameter(torch.zeros(2))
    param.grad = torch.ones(2)
    distributed.average_gradients([param])
    assert torch.equal(param.grad, torch.ones(2))
    with distributed.session("cpu"):
        assert not distributed.active()
    assert devices.local_device(torch.device("cuda")) == torch.device("cuda")


def test_a_process_torchrun_started_is_main_only_on_rank_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("RANK", "1")
    assert distributed.launched() and not distributed.is_main_process()
    assert devices.local_device(torch.device("cuda")) == torch.device("cuda", 1)
    assert devices.local_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv("RANK", "0")
    assert distributed.is_main_process()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    """What each process of a 2-process gloo group saw (see gloo_worker.py)."""
    out = tmp_path_factory.mktemp("gloo")
    home = tmp_path_factory.mktemp("home")
    port = str(_free_port())
    workers = []
    for rank in range(2):
        env = {**os.environ, "RECGRAFT_HOME": str(home), "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2",
               "RANK": str(rank), "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        workers.append(subprocess.Popen([sys.executable, str(WORKER), str(out)], env=env, cwd=out,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output
    return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in range(2)]


def test_helpers_in_a_two_process_group(two_processes: list[dict[str, object]]) -> None:
    for rank, seen in enumerate(two_processes):
        assert seen["rank"] == rank and seen["world_size"] == 2
        assert seen["average"] == {"loss": 0.5, "count": 2.0}
        assert seen["any_process"] is True
        assert seen["share"] == "read on rank 0"
        assert seen["on_main"] == ("opened on rank 0" if rank == 0 else None)
        both, one, neither = seen["gradients"]  # type: ignore[misc]
        assert torch.equal(both, torch.full((3,), 1.5))
        assert torch.equal(one, torch.full((2,), 0.5))  # missing on rank 0: counted as zeros there
        assert neither is None  # missing everywhere: left alone
        assert torch.equal(seen["replicate"], torch.zeros(2))  # type: ignore[arg-type]


def test_no_process_leaves_the_group_before_every_block_has_ended(two_processes: list[dict[str, object]]) -> None:
    rank0, rank1 = two_processes
    assert rank1["left"] >= rank0["block_ended"] > rank1["block_ended"]  # type: ignore[operator]


def test_sharded_evaluation_equals_the_single_process_one(two_processes: list[dict[str, object]]) -> None:
    for seen in two_processes:
        whole, sharded = seen["evaluation"]  # type: ignore[misc]
        assert sharded == whole
        assert whole["users"] == 90 and whole["by_history_length"]


def test_sharded_evaluation_of_several_held_out_items_equals_the_single_process_one(
        two_processes: list[dict[str, object]]) -> None:
    for seen in two_processes:
        whole, sharded = seen["evaluation_ratio"]  # type: ignore[misc]
        assert sharded == whole
        assert whole["users"] == 90 and whole["recall@10"] != whole["hr@10"]


def _without_time(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


@pytest.mark.parametrize("encoder", ["transformer", "lstm", "gan"])
def test_processes_train_one_model(two_processes: list[dict[str, object]], encoder: str) -> None:
    (history0, valid0, processes, state0), (history1, valid1, _, state1) = (
        seen[f"fit-{encoder}"] for seen in two_processes  # type: ignore[misc]
    )
    assert processes == 2
    # Replicas started apart (different seeds) and trained on different shards: only
    # replication and gradient averaging keep them equal.
    for key, value in state0.items():
        assert torch.equal(value, state1[key]), key
    assert _without_time(history0) == _without_time(history1) and valid0 == valid1
    assert history0[-1]["loss"] < history0[0]["loss"]


@pytest.mark.parametrize(("encoder", "losses"), [("transformer", 1), ("lstm", 1), ("gan", 2)])
def test_pretraining_trains_through_distributed_data_parallel_one_loss_per_optimiser(
    two_processes: list[dict[str, object]], encoder: str, losses: int,
) -> None:
    assert [seen[f"ddp-{encoder}"] for seen in two_processes] == [[True] * losses] * 2


def test_an_objective_that_wraps_nothing_still_trains_one_model(two_processes: list[dict[str, object]]) -> None:
    (history0, _, processes, state0), (history1, _, _, state1) = (
        seen["fit-unwrapped"] for seen in two_processes  # type: ignore[misc]
    )
    assert processes == 2 and _without_time(history0) == _without_time(history1)
    for key, value in state0.items():
        assert torch.equal(value, state1[key]), key


def test_only_rank_0_writes_the_resume_file_and_every_process_resumes_from_it(
    two_processes: list[dict[str, object]],
) -> None:
    assert [seen["resume-written"] for seen in two_processes] == [True, False]
    (epochs0, state0), (epochs1, state1) = (seen["resume"] for seen in two_processes)  # type: ignore[misc]
    assert epochs0 == epochs1 == [1, 2, 3]
    for key, value in state0.items():
        assert torch.equal(value, state1[key]), key


@pytest.mark.parametrize("strategy", ["finetune", "direct"])
def test_processes_transfer_one_model(two_processes: list[dict[str, object]], strategy: str) -> None:
    (history0, test0, state0), (history1, test1, state1) = (
        seen[f"transfer-{strategy}"] for seen in two_processes  # type: ignore[misc]
    )
    for key, value in state0.items():
        assert torch.equal(value, state1[key]), key
    assert _without_time(history0) == _without_time(history1) and test0 == test1
    assert [record["epoch"] for record in history0] == [0, 1, 2]

"""Data-parallel training under torchrun: the process group, each process's share, collectives.

``torchrun --nproc-per-node N -m recgraft pretrain ...`` starts N processes with
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` set; :func:`session` joins them in one process
group (NCCL when training on CUDA, one GPU per process by ``LOCAL_RANK``; gloo otherwise;
torchrun's rendezvous spans several nodes). Without torchrun nothing here does anything:
every helper is then the identity of a single process.

Every process holds a whole replica of the model and trains on its shard of each epoch's
shuffled windows (``recgraft.engine.batching.shard_indices``). What a phase trains is a
module whose forward returns the loss, wrapped by :func:`data_parallel` in torch's
``DistributedDataParallel``: it starts every replica from rank 0's weights and averages
gradients during backward, in buckets that overlap with it. (An objective calls more than
an encoder's ``forward``, ``item_vectors`` and ``sequence_output`` among others, so it is the
loss that is wrapped, and the GAN wraps one loss per optimiser.) A third-party objective
that wraps nothing still trains correctly: :class:`GradientAverager` averages its
optimisers' gradients just before each step.
Evaluation ranks each process's share of users and gathers the ranks, so every process
computes exactly the metrics a single process would and early stopping decides alike
everywhere. Only rank 0 writes files and registry records (:func:`is_main_process`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from recgraft.engine.device import resolve_device

T = TypeVar("T")

TORCHRUN_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


class PeerFailure(RuntimeError):
    """Another process of the job failed, so this one cannot go on."""


def launched() -> bool:
    """Whether torchrun started this process (``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` are set)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def active() -> bool:
    """Whether this process is in a process group (inside :func:`session`)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank in the process group; 0 without one."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """How many processes train together; 1 without a process group."""
    return dist.get_world_size() if active() else 1


def sharded() -> bool:
    """Whether data and work are split across several processes."""
    return world_size() > 1


def is_main_process() -> bool:
    """Rank 0, the one process that prints, writes files and registers; True without torchrun.

    A process torchrun started is the main one only if its ``RANK`` is 0, even before it
    joins the process group.
    """
    if active():
        return rank() == 0
    return os.environ.get("RANK", "0") == "0" if launched() else True


@contextlib.contextmanager
def session(device: str = "auto") -> Iterator[None]:
    """Join torchrun's process group for the block and leave it after (nothing without torchrun).

    A process whose block ends waits for the others' to end too; one that fails leaves at once.

    The backend follows ``device`` (resolved as ``--device`` is): NCCL on CUDA, gloo otherwise.
    """
    if not launched() or active():
        yield
        return
    torch_device = resolve_device(device)
    if torch_device.type == "cuda":
        torch.cuda.set_device(torch_device)
    backend = "nccl" if torch_device.type == "cuda" else "gloo"
    _collective(dist.init_process_group, backend)
    try:
        yield
        # Reached only when the block ended normally. Leave together: a process that tears
        # down its connections while a peer still works (rank 0 registering) can make gloo
        # abort it on the way out.
        all_finished()
    finally:
        # DDP wrappers that outlive the process group can make the process abort at exit
        # ("terminate called without an active exception"): free the unreachable ones first.
        gc.collect()
        dist.destroy_process_group()


def _collective(run: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``run(*args, **kwargs)``, a collective; a peer that died makes it fail with a :class:`PeerFailure`."""
    try:
        return run(*args, **kwargs)
    except RuntimeError as exc:  # DistBackendError, gloo's "connection closed by peer", ...
        raise PeerFailure(f"stopped: another process of the job failed ({_first_sentence(exc)})") from exc


def _first_sentence(exc: Exception) -> str:
    """A backend error's gist: its first sentence, without the ``[file.cc:123]`` prefix."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).strip())
    return text.split(". ")[0].splitlines()[0] if text else type(exc).__name__


def _collective_device() -> torch.device:
    """Where collectives' tensors must live: this process's GPU with NCCL, the CPU with gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce(tensor: torch.Tensor, op: dist.ReduceOp.RedOpType = dist.ReduceOp.SUM) -> torch.Tensor:
    """The reduction of ``tensor`` over all processes, on ``tensor``'s device.

    In place when ``tensor`` already lives where collectives run; callers pass a fresh tensor.
    """
    staged = tensor.to(_collective_device())
    _collective(dist.all_reduce, staged, op=op)
    return staged.to(tensor.device)


# --- sharing values -------------------------------------------------------------------------
def share(produce: Callable[[], T]) -> T:
    """``produce()`` run on rank 0 only, its (picklable) result sent to every process.

    Used for what only rank 0 may read (the registry, a resume file). If ``produce`` raises
    on rank 0, the other processes raise :class:`PeerFailure`.
    """
    if not sharded():
        return produce()
    box: list[Any] = [(False, None)]
    error: BaseException | None = None
    if rank() == 0:
        try:
            box[0] = (True, produce())
        except Exception as exc:
            error = exc
    _collective(dist.broadcast_object_list, box, src=0)
    if error is not None:
        raise error
    ok, value = box[0]
    if not ok:
        raise PeerFailure("stopped: rank 0 failed")
    return value


def on_main(produce: Callable[[], T]) -> T | None:
    """``produce()`` on rank 0 (None elsewhere); if it raises there, every process stops."""
    if not sharded():
        return produce()
    result: list[T] = []

    def run() -> bool:
        result.append(produce())
        return True

    share(run)
    return result[0] if result else None


def average(values: Mapping[str, float]) -> dict[str, float]:
    """Each value averaged over the processes (every process passes the same keys)."""
    if not sharded():
        return dict(values)
    keys = sorted(values)  # the same order on every process
    summed = _all_reduce(torch.tensor([float(values[k]) for k in keys], dtype=torch.float64))
    means = {key: float(total) / world_size() for key, total in zip(keys, summed.tolist(), strict=True)}
    return {key: means[key] for key in values}


def any_process(flag: bool) -> bool:
    """True on every process if ``flag`` is true on any (e.g. a time limit reached on one clock)."""
    if not sharded():
        return flag
    return bool(_all_reduce(torch.tensor([int(flag)]), dist.ReduceOp.MAX).item())


def all_finished() -> None:
    """Wait until every process has got here; raises :class:`PeerFailure` if one failed instead.

    Rank 0 calls it before registering, so a failed process never leaves a record behind;
    :func:`session` calls it when a block ends, so that the processes leave together.
    """
    if sharded():
        done = _all_reduce(torch.ones(1))
        if int(done.item()) != world_size():
            raise PeerFailure("stopped: not every process finished")


# --- replicas and gradients -----------------------------------------------------------------
def data_parallel(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` (its forward returns a loss) in ``DistributedDataParallel`` under torchrun;
    ``module`` itself in a single process.

    The graph is declared static (``static_graph``): which of a model's parameters a loss
    reaches depends on the plugin (a head that ignores the item table, an extractor that
    reads one layer) but not on the batch, so DDP learns the unused ones in the first
    iteration instead of searching the autograd graph in every one.
    """
    if not sharded():
        return module
    from torch.nn.parallel import DistributedDataParallel

    device = next(module.parameters()).device
    device_ids = [device] if device.type == "cuda" else None
    wrapped: torch.nn.Module = _collective(DistributedDataParallel, module, device_ids=device_ids,
                                           static_graph=True)
    return wrapped


def uses_data_parallel(module: torch.nn.Module) -> bool:
    """Whether ``module`` is wrapped by :func:`data_parallel` (under torchrun)."""
    from torch.nn.parallel import DistributedDataParallel

    return isinstance(module, DistributedDataParallel)


@torch.no_grad()
def replicate(tensors: Iterable[torch.Tensor]) -> None:
    """Overwrite every process's ``tensors`` (parameters, buffers) in place with rank 0's."""
    if not sharded():
        return
    device = _collective_device()
    for tensor in tensors:
        staged = tensor.detach().to(device)
        _collective(dist.broadcast, staged, src=0)
        if staged.data_ptr() != tensor.data_ptr():
            tensor.copy_(staged)


@torch.no_grad()
def average_gradients(parameters: Iterable[torch.Tensor]) -> None:
    """Average the parameters' gradients over the processes: one all_reduce per dtype and device.

    A gradient missing on some processes counts as zeros there, as in DDP; one missing on
    every process stays None (so the optimiser still skips that parameter).
    """
    if not sharded():
        return
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for param in parameters:
        if param.requires_grad:
            groups.setdefault((param.dtype, param.device), []).append(param)
    for (dtype, device), members in groups.items():
        present = torch.tensor([p.grad is not None for p in members], dtype=dtype, device=device)
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in members]
                         + [present])
        flat = _all_reduce(flat)
        flags = flat[-len(members):]
        offset = 0
        for param, flag in zip(members, flags.tolist(), strict=True):
            chunk = flat[offset : offset + param.numel()].view_as(param).div_(world_size())
            offset += param.numel()
            if param.grad is not None:
                param.grad.copy_(chunk)
            elif flag > 0:
                param.grad = chunk.clone()


def _optimizer_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class GradientAverager:
    """Averages the gradients of optimisers' parameters across processes once per step.

    Call it with an optimiser between ``backward`` and gradient clipping, where DDP would
    have averaged. A step not preceded by such a call averages in a pre-step hook instead,
    so an objective that never calls it still keeps the replicas equal.
    """

    def __init__(self, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        self._averaged: set[int] = set()
        self._handles = [optimizer.register_step_pre_hook(self._before_step) for optimizer in optimizers]

    def __call__(self, optimizer: torch.optim.Optimizer) -> None:
        average_gradients(_optimizer_parameters(optimizer))
        self._averaged.add(id(optimizer))

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if id(optimizer) in self._averaged:
            self._averaged.discard(id(optimizer))
        else:
            average_gradients(_optimizer_parameters(optimizer))

    def close(self) -> None:
        """Remove the pre-step hooks."""
        for handle in self._handles:
            handle.remove()


# --- evaluation -----------------------------------------------------------------------------
class ProcessShard:
    """Evaluation split across the processes: each ranks every ``world_size``-th user.

    Satisfies ``recgraft.engine.evaluation.UserShard``.
    """

    def __init__(self) -> None:
        self.rank, self.world_size = rank(), world_size()

    def select(self, users: np.ndarray) -> np.ndarray:
        """This process's users."""
        return users[self.rank :: self.world_size]

    def gather(self, ranks: torch.Tensor, total: int) -> torch.Tensor:
        """Every process's target ranks (each from :meth:`select`; (n,) or (n, T), T alike in
        every process) in the order of all ``total`` users."""
        per_process = -(-total // self.world_size)
        padded = torch.full((per_process, *ranks.shape[1:]), -1, dtype=torch.long, device=_collective_device())
        padded[: len(ranks)] = ranks.to(padded.device)
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        _collective(dist.all_gather, parts, padded)
        out = torch.empty((total, *ranks.shape[1:]), dtype=torch.long)
        for index, part in enumerate(parts):
            count = len(range(index, total, self.world_size))
            out[index :: self.world_size] = part[:count].cpu()
        return out


def evaluation_shard() -> ProcessShard | None:
    """How to split an evaluation across the processes; None in a single process."""
    return ProcessShard() if sharded() else None

"""Micro-batching: concurrent requests wait in a short queue and are scored in one forward pass.

The batcher takes the first waiting request and everything already queued behind it (up to
``max_batch``); when the previous batch held more than one request (there is load), it waits
at most ``max_wait`` seconds for more while the batch is not full. While one batch runs on the
model thread, new requests queue up and form the next batch, so batches grow with the load
instead of requests waiting one forward pass each, and a lone request never waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """One request: a history of item ids, how many items, whether to leave out the history, and
    the model its ids belong to (a swap may come between checking a request and scoring it)."""

    history: list[int]
    k: int
    exclude_history: bool
    model: Any
    future: asyncio.Future[Any] = field(repr=False)


#: Runs a batch on the model thread; returns one result per job, in order.
BatchRunner = Callable[[Sequence[Job]], Sequence[Any]]


class MicroBatcher:
    """Queues jobs and runs them in batches of at most ``max_batch`` on one model thread."""

    def __init__(self, run: BatchRunner, max_batch: int = 32, max_wait: float = 0.002) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max(0.0, max_wait)
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="recgraft-model")
        self.batches = 0  # batches run, and the requests in them (for /health)
        self.requests = 0
        self._last_size = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=True)

    async def submit(self, history: list[int], k: int, exclude_history: bool, model: Any) -> Any:
        """The job's result, once its batch has run (its exception, if the batch failed)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put(Job(history, k, exclude_history, model, future))
        return await future

    async def _collect(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        batch = [await self.queue.get()]
        deadline = loop.time() + (self.max_wait if self._last_size > 1 else 0.0)
        while len(batch) < self.max_batch:
            if not self.queue.empty():
                batch.append(self.queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            batch = [job for job in batch if not job.future.done()]  # callers that went away
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(self.executor, self.run, batch)
            except Exception as exc:  # a failed batch fails its requests, not the service
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.batches += 1
            self.requests += len(batch)
            self._last_size = len(batch)
            for job, result in zip(batch, results, strict=True):
                if not job.future.done():
                    job.future.set_result(result)

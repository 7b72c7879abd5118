"""The micro-batcher: concurrent jobs share forward passes, bounded by max_batch; a failed
batch fails its requests and not the batcher."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from recgraft.serve.batcher import Job, MicroBatcher


class Recorder:
    """A batch runner that records batch sizes and answers each job with its history's sum."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sizes: list[int] = []
        self.fail_on = fail_on
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, jobs: Sequence[Job]) -> list[int]:
        self.gate.wait(5)
        self.sizes.append(len(jobs))
        if self.fail_on is not None and any(job.history == [self.fail_on] for job in jobs):
            raise RuntimeError("model failed")
        return [sum(job.history) for job in jobs]


async def _gather(batcher: MicroBatcher, histories: list[list[int]]) -> list[object]:
    batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit(h, 1, True, None) for h in histories), return_exceptions=True)
    finally:
        await batcher.stop()


def test_waiting_jobs_share_one_batch_up_to_max_batch() -> None:
    runner = Recorder()
    results = asyncio.run(_gather(MicroBatcher(runner, max_batch=8, max_wait=0.0), [[i] for i in range(20)]))
    assert results == list(range(20))
    assert sum(runner.sizes) == 20 and max(runner.sizes) <= 8 and len(runner.sizes) < 20


def test_max_batch_one_turns_batching_off() -> None:
    runner = Recorder()
    results = asyncio.run(_gather(MicroBatcher(runner, max_batch=1), [[i] for i in range(10)]))
    assert results == list(range(10)) and runner.sizes == [1] * 10


def test_jobs_arriving_during_a_batch_form_the_next_one() -> None:
    runner = Recorder()

    async def scenario() -> list[object]:
        batcher = MicroBatcher(runner, max_batch=32, max_wait=0.0)
        batcher.start()
        try:
            runner.gate.clear()  # the first batch blocks on the model thread
            first = asyncio.ensure_future(batcher.submit([1], 1, True, None))
            await asyncio.sleep(0.05)
            rest = [asyncio.ensure_future(batcher.submit([i], 1, True, None)) for i in range(2, 12)]
            await asyncio.sleep(0.05)
            runner.gate.set()
            return list(await asyncio.gather(first, *rest))
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [1, *range(2, 12)]
    assert runner.sizes == [1, 10]


def test_a_failed_batch_fails_its_requests_and_the_next_batch_runs() -> None:
    runner = Recorder(fail_on=3)

    async def scenario() -> tuple[list[object], int]:
        batcher = MicroBatcher(runner, max_batch=1)
        batcher.start()
        try:
            results = await asyncio.gather(*(batcher.submit([i], 1, True, None) for i in range(5)),
                                           return_exceptions=True)
            return list(results), await batcher.submit([7], 1, True, None)
        finally:
            await batcher.stop()

    results, after = asyncio.run(scenario())
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4]
    assert isinstance(results[3], RuntimeError) and after == 7


def test_max_batch_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(Recorder(), max_batch=0)

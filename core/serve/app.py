"""The HTTP JSON service: ``POST /recommend``, ``GET /health``, ``GET /model``.

One checkpoint answers at a time. A reference that can move (an alias, or a bare name, which
means its latest version) is re-resolved every ``poll_seconds``; a new checkpoint is loaded
beside the one serving and swapped in once it has scored a warm-up history, so requests in
flight finish on the old model and none is dropped. The service only reads the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recgraft.engine.device import resolve_device
from recgraft.recommender import Recommender, load_registered, score_histories, top_items
from recgraft.registry import CheckpointRecord, Registry, RegistryError, parse_reference
from recgraft.serve.batcher import Job, MicroBatcher
from recgraft.serve.settings import ServeSettings


class RecommendRequest(BaseModel):
    """The body of ``POST /recommend``."""

    model_config = ConfigDict(extra="forbid")

    history: list[StrictStr] = Field(description="item tokens, oldest first")
    k: StrictInt = 10
    exclude_history: StrictBool = True


@dataclass(frozen=True)
class Loaded:
    """A checkpoint ready to answer: its record, its model and its lineage."""

    record: CheckpointRecord
    model: Recommender
    lineage: dict[str, Any]


def load(registry: Registry, record: CheckpointRecord, device: str) -> Loaded:
    """Read, verify and load ``record``'s checkpoint, and score one history so it is warm."""
    model = load_registered(registry, record, resolve_device(device))
    score_histories(model.score, [[1]], model.max_length, model.device, model.padding_invariant)
    return Loaded(record, model, registry.lineage(record.reference).to_json())


class ModelHolder:
    """The checkpoint serving now, and the reference it was resolved from."""

    def __init__(self, registry: Registry, reference: str, settings: ServeSettings) -> None:
        self.registry = registry
        self.reference = reference
        self.settings = settings
        self.movable = parse_reference(reference).version is None
        self.current = load(registry, registry.resolve(reference), settings.device)
        self.swaps = 0

    def refresh(self) -> bool:
        """Re-resolve the reference; load and swap in the checkpoint it now names. True on a swap."""
        record = self.registry.resolve(self.reference)
        if record.id == self.current.record.id:
            return False
        self.current = load(self.registry, record, self.settings.device)  # one assignment: atomic
        self.swaps += 1
        return True

    def run(self, jobs: Sequence[Job]) -> list[dict[str, Any]]:
        """Score a batch: one forward pass per model among its jobs (one, except during a swap)."""
        answers: dict[int, dict[str, Any]] = {}
        for loaded in {id(job.model): job.model for job in jobs}.values():
            rows = [n for n, job in enumerate(jobs) if job.model is loaded]
            model = loaded.model
            histories = [jobs[n].history for n in rows]
            scores = score_histories(model.score, histories, model.max_length, model.device,
                                     model.padding_invariant)
            for row, n in enumerate(rows):
                job = jobs[n]
                top = top_items(scores[row : row + 1], [job.history], job.k, job.exclude_history)[0]
                answers[n] = {
                    "checkpoint": loaded.record.reference,
                    "items": [{"item": model.items.token(i), "score": s} for i, s in top],
                }
        return [answers[n] for n in range(len(jobs))]


class BadRequest(Exception):
    """A request the service refuses: its HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def parse_request(request: Request, holder: ModelHolder) -> tuple[list[int], int, bool, Loaded]:
    """The history's item ids, k, exclude_history and the model they were checked against, of a
    ``POST /recommend``; or BadRequest."""
    settings = holder.settings
    body = await request.body()
    if len(body) > settings.max_body_bytes:
        raise BadRequest(413, f"request body over {settings.max_body_bytes} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest(422, "the body must be a JSON object with a 'history' list")
    try:
        parsed = RecommendRequest.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(422, _validation_message(exc)) from None
    loaded = holder.current
    model = loaded.model
    if not parsed.history:
        raise BadRequest(422, "history: give at least one item")
    if len(parsed.history) > settings.max_history:
        raise BadRequest(422, f"history: {len(parsed.history)} items, at most {settings.max_history} accepted")
    limit = min(settings.max_k, len(model.items) - 1)
    if not 1 <= parsed.k <= limit:
        raise BadRequest(422, f"k: {parsed.k} is out of range, give 1 to {limit}")
    ids = model.items.lookup(parsed.history)
    unknown = [token for token, i in zip(parsed.history, ids, strict=True) if i == 0]
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise BadRequest(422, f"history: {len(unknown)} item(s) unknown to {loaded.record.reference}: {shown}")
    return [int(i) for i in ids], parsed.k, parsed.exclude_history, loaded


def create_app(holder: ModelHolder) -> Starlette:
    """The Starlette app serving ``holder``'s checkpoint."""
    settings = holder.settings
    batcher = MicroBatcher(holder.run, settings.max_batch, settings.max_wait_ms / 1000)
    started = time.monotonic()

    async def recommend(request: Request) -> JSONResponse:
        try:
            history, k, exclude, loaded = await parse_request(request, holder)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        return JSONResponse(await batcher.submit(history, k, exclude, loaded))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({
            "status": "ok",
            "checkpoint": holder.current.record.reference,
            "reference": holder.reference,
            "uptime_seconds": round(time.monotonic() - started, 3),
            "requests": batcher.requests,
            "batches": batcher.batches,
            "swaps": holder.swaps,
        })

    async def model(request: Request) -> JSONResponse:
        loaded = holder.current
        return JSONResponse({
            "reference": holder.reference,
            "record": loaded.record.model_dump(mode="json"),
            "metrics": loaded.record.metrics,
            "lineage": loaded.lineage,
            "max_length": loaded.model.max_length,
            "num_items": len(loaded.model.items) - 1,
        })

    async def watch() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(settings.poll_seconds)
            try:
                if await loop.run_in_executor(None, holder.refresh):
                    print(f"recgraft serve: {holder.reference} now answers with "
                          f"{holder.current.record.reference}", file=sys.stderr, flush=True)
            except Exception as exc:  # keep serving the model we have; say why once per poll
                kind = "" if isinstance(exc, RegistryError) else f"{type(exc).__name__}: "
                print(f"recgraft serve: could not re-resolve {holder.reference}: {kind}{exc}",
                      file=sys.stderr, flush=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        batcher.start()
        watcher = asyncio.get_running_loop().create_task(watch()) if holder.movable else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await batcher.stop()

    return Starlette(
        routes=[
            Route("/recommend", recommend, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/model", model, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

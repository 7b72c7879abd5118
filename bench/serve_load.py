"""Load test of ``recgraft serve`` over loopback: p50 / p99 latency and requests per second.

Starts ``recgraft serve REF --port 0`` twice, with batching (``--max-batch 32``) and without
(``--max-batch 1``), and sends ``POST /recommend`` (k = 10) with histories of the domain's
test users (leave-one-out by time) from aiohttp's client (the ``bench`` extra; httpx's pool
was the bottleneck at concurrency 32) at each concurrency: a fixed
request count per level, cut at a time cap. Then the ONNX graph's latency for one history
beside torch's (one thread each). Latency depends on the architecture and the catalogue
size, not on how well the checkpoint is trained.

    OMP_NUM_THREADS=1 RECGRAFT_HOME=/tmp/bench-home python bench/serve_load.py \\
        --ref ml-1m-transformer --data /work/shared/data/ml-1m --requests 2000 --time-cap 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def start_server(ref: str, max_batch: int, registry: str | None) -> tuple[subprocess.Popen[str], str]:
    """A ``recgraft serve`` process on a free loopback port, and its base URL once /health answers."""
    command = [sys.executable, "-m", "recgraft", "serve", ref, "--port", "0", "--device", "cpu",
               "--max-batch", str(max_batch)]
    if registry:
        command += ["--registry", registry]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise RuntimeError(f"server exited with {process.wait()}")
        found = re.search(r"on (http://\S+)", line)
        if found:
            url = found.group(1)
            httpx.get(f"{url}/health", timeout=10).raise_for_status()
            return process, url
    process.kill()
    raise RuntimeError("server did not start")


async def load_level(url: str, bodies: list[bytes], concurrency: int, requests: int, time_cap: float) -> dict[str, Any]:
    """Send ``requests`` bodies (cycling) from ``concurrency`` workers, each on its own kept-alive
    connection; stop at ``time_cap`` seconds."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    sent = 0
    headers = {"content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def post(body: bytes) -> int:
            async with client.post("/recommend", data=body, headers=headers) as response:
                await response.read()
                return response.status

        await asyncio.gather(*(post(body) for body in bodies[: concurrency * 2]))  # open the connections
        start = time.perf_counter()
        stop = start + time_cap

        async def worker() -> None:
            nonlocal sent, failures
            while sent < requests and time.perf_counter() < stop:
                body = bodies[sent % len(bodies)]
                sent += 1
                began = time.perf_counter()
                status = await post(body)
                latencies.append(time.perf_counter() - began)
                failures += status != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "failed": failures,
        "seconds": round(elapsed, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
    }


def run(work: Any) -> Any:
    """Run the client's event loop on uvloop when it is installed (as the server does)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="Checkpoint reference (an ML-1M transformer).")
    parser.add_argument("--data", type=Path, required=True, help="The domain whose test users' histories are sent.")
    parser.add_argument("--registry", default=None)
    parser.add_argument("--requests", type=int, default=2000, help="Requests per level.")
    parser.add_argument("--time-cap", type=float, default=30.0, help="Seconds per level at most.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="Append the results (JSON lines) here.")
    args = parser.parse_args()

    from recgraft.data.loader import load_domain
    from recgraft.export import evaluation_histories, export_onnx, time_one_history
    from recgraft.recommender import load_registered
    from recgraft.registry import Registry

    registry = Registry.open(url=args.registry)
    record = registry.resolve(args.ref)
    model = load_registered(registry, record, "cpu")
    histories = evaluation_histories(load_domain(args.data), model, seed=0)
    order = np.random.default_rng(0).permutation(len(histories))
    bodies = [json.dumps({"history": [str(model.items.token(i)) for i in histories[n]], "k": args.k}).encode()
              for n in order]
    results: list[dict[str, Any]] = []
    for batching, max_batch in (("on", 32), ("off", 1)):
        process, url = start_server(args.ref, max_batch, args.registry)
        try:
            for concurrency in args.concurrency:
                row = run(load_level(url, bodies, concurrency, args.requests, args.time_cap))
                row.update(batching=batching, checkpoint=record.reference)
                results.append(row)
                print(json.dumps(row), flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "model.onnx"
        median = sorted(histories, key=len)[len(histories) // 2]
        export_onnx(model, graph, record.reference, check=histories[:256])
        timing = time_one_history(model, graph, median)
        row = {"onnx_one_history": timing, "history_length": len(median), "checkpoint": record.reference,
               "threads": os.environ.get("OMP_NUM_THREADS")}
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.out is not None:
        with args.out.open("a") as handle:
            for row in results:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

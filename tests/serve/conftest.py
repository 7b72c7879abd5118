"""A tiny real registry (two pretrained versions of one name and a transfer from the first),
made once, and ``recgraft serve`` processes on it, on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from recgraft.registry import Registry

NAME = "tiny"


@dataclass(frozen=True)
class TinyRegistry:
    """A registry folder: its database URL, its store, and the references in it."""

    root: Path
    pretrained: tuple[str, str] = (f"{NAME}@1", f"{NAME}@2")
    transferred: str = "tiny-finetune@1"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.root / 'registry.db'}"

    @property
    def store(self) -> Path:
        return self.root / "checkpoints"

    def args(self) -> list[str]:
        return ["--registry", self.url, "--store", str(self.store)]

    def open(self) -> Registry:
        return Registry.open(url=self.url, store=self.store)


@pytest.fixture(scope="session")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> TinyRegistry:
    """Made once: ``tiny@1`` and ``tiny@2`` (seeds 0 and 1; @1 tagged production) and a
    finetune transfer of ``tiny@1`` onto a second domain."""
    from recgraft import plugin_manager
    from recgraft.data import synthetic_domains
    from recgraft.data.split import leave_one_out
    from recgraft.pretrain import pretrain
    from recgraft.transfer import Transfer

    tiny = TinyRegistry(tmp_path_factory.mktemp("tiny-registry"))
    plugin_manager.reset()
    source, target = synthetic_domains(num_users=(60, 30), num_items=(40, 30), seed=0)
    with tiny.open() as reg:
        for seed in (0, 1):
            trained = pretrain(source, "transformer", {"max_length": 8, "embedding_dim": 8},
                               {"epochs": 1, "seed": seed}, device="cpu")
            trained.register(reg, name=NAME)
        reg.tag(f"{NAME}@1", "production")
        transfer = Transfer.from_checkpoint(reg, f"{NAME}@1", strategy="finetune")
        result = transfer.fit(leave_one_out(target), train={"epochs": 1}, device="cpu")
        result.register(reg, name="tiny-finetune")
    plugin_manager.reset()
    return tiny


@pytest.fixture
def tiny_registry(tiny_template: TinyRegistry, tmp_path: Path) -> TinyRegistry:
    """A copy of the template this test may change."""
    root = tmp_path / "registry"
    shutil.copytree(tiny_template.root, root)
    return TinyRegistry(root)


def http(method: str, url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request; 4xx and 5xx are returned, not raised."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text.decode(errors="replace")


@dataclass
class Server:
    """A running ``recgraft serve`` process and its base URL."""

    process: subprocess.Popen[str]
    url: str
    stderr: list[str] = field(default_factory=list)

    def get(self, path: str) -> tuple[int, Any]:
        return http("GET", self.url + path)

    def post(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        return http("POST", self.url + path, body, raw)


@contextlib.contextmanager
def running_server(tiny: TinyRegistry, reference: str, *options: str) -> Iterator[Server]:
    """``recgraft serve REFERENCE --port 0`` on ``tiny``; waits for /health; terminates it after."""
    command = [sys.executable, "-m", "recgraft", "serve", reference, "--port", "0", "--device", "cpu",
               *tiny.args(), *options]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    lines: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                raise AssertionError(f"recgraft serve exited ({process.wait()}):\n{''.join(lines)}")
            lines.append(line)
            found = re.search(r" on (http://127\.0\.0\.1:\d+)", line)
            url = found.group(1) if found else None
        assert url is not None, "".join(lines)
        stream = process.stderr
        threading.Thread(target=lambda: lines.extend(stream), daemon=True).start()  # keep draining
        server = Server(process, url, lines)
        while server.get("/health")[0] != 200:  # uvicorn starts accepting just after the line
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def served(tiny_template: TinyRegistry) -> Iterator[Server]:
    """One server on ``tiny@production`` (the template, which it must only read), for the
    tests that do not move aliases."""
    with running_server(tiny_template, f"{NAME}@production") as server:
        yield server


"""A real ``recgraft serve`` process answers real HTTP requests (see conftest.py)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli

from .conftest import NAME, Server, TinyRegistry, running_server


def cli_recommend(tiny: TinyRegistry, reference: str, history: list[str], k: int) -> dict[str, Any]:
    result = CliRunner().invoke(build_cli(), ["recommend", reference, *[f"--history={h}" for h in history],
                                              "-k", str(k), "--json", *tiny.args()])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def catalogue(tiny: TinyRegistry, reference: str) -> list[str]:
    """The checkpoint's item tokens (padding left out)."""
    from recgraft.recommender import load_recommender

    with tiny.open() as reg:
        return [str(t) for t in load_recommender(reg.read_bytes(reference)).items.tokens[1:]]


def test_recommendations_equal_recommend_for_the_same_history(served: Server, tiny_template: TinyRegistry) -> None:
    items = catalogue(tiny_template, f"{NAME}@1")
    for history in (items[:1], items[3:9], items[::-1] * 2):  # short, a window, longer than max_length
        status, answer = served.post("/recommend", {"history": history, "k": 7})
        assert status == 200, answer
        expected = cli_recommend(tiny_template, f"{NAME}@production", history, 7)
        assert answer["checkpoint"] == expected["checkpoint"] == f"{NAME}@1"
        assert [row["item"] for row in answer["items"]] == [row["item"] for row in expected["items"]]
        assert [round(row["score"], 5) for row in answer["items"]] == [row["score"] for row in expected["items"]]


def test_exclude_history_false_may_recommend_history_items(served: Server, tiny_template: TinyRegistry) -> None:
    items = catalogue(tiny_template, f"{NAME}@1")
    k = len(items)
    _, excluded = served.post("/recommend", {"history": items[:5], "k": k - 5})
    _, kept = served.post("/recommend", {"history": items[:5], "k": k, "exclude_history": False})
    assert not set(items[:5]) & {row["item"] for row in excluded["items"]}
    assert {row["item"] for row in kept["items"]} == set(items)


def test_concurrent_requests_are_scored_in_shared_batches(served: Server, tiny_template: TinyRegistry) -> None:
    items = catalogue(tiny_template, f"{NAME}@1")
    _, before = served.get("/health")
    histories = [items[i : i + 1 + i % 7] for i in range(30)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda h: served.post("/recommend", {"history": h, "k": 5}), histories * 4))
    _, after = served.get("/health")
    assert all(status == 200 for status, _ in answers)
    assert after["requests"] - before["requests"] == 120
    assert after["batches"] - before["batches"] < 120  # some requests shared a forward pass
    # A batch pads its histories to its longest: the same scores as alone, up to float rounding.
    alone = {tuple(h): served.post("/recommend", {"history": h, "k": 5})[1]["items"] for h in histories}
    for history, (_, body) in zip(histories * 4, answers, strict=True):
        expected = [row["score"] for row in alone[tuple(history)]]
        assert [row["score"] for row in body["items"]] == pytest.approx(expected, abs=1e-5)


BAD_REQUESTS = [
    (b'{"history": ["a"', 400, "malformed JSON"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b"[]", 422, "JSON object"),
    (b'"history"', 422, "JSON object"),
    (b"{}", 422, "history"),
    (b'{"history": []}', 422, "at least one item"),
    (b'{"history": "item00001"}', 422, "history"),
    (b'{"history": [1, 2]}', 422, "history.0"),
    (b'{"history": ["no-such-item", "item00001"]}', 422, "unknown"),
    (b'{"history": ["item00001"], "k": 0}', 422, "k: 0 is out of range"),
    (b'{"history": ["item00001"], "k": 100000}', 422, "k: 100000 is out of range"),
    (b'{"history": ["item00001"], "k": "3"}', 422, "k"),
    (b'{"history": ["item00001"], "k": 2.5}', 422, "k"),
    (b'{"history": ["item00001"], "exclude_history": "no"}', 422, "exclude_history"),
    (b'{"history": ["item00001"], "colour": "red"}', 422, "colour"),
    (json.dumps({"history": ["item00001"] * 5001}).encode(), 422, "at most 5000"),
    (b'{"history": ["' + b"x" * 1_000_001 + b'"]}', 413, "over"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_REQUESTS,
                         ids=[f"{i}-{m.split()[0]}" for i, (_, _, m) in enumerate(BAD_REQUESTS)])
def test_bad_request_gets_its_4xx_and_one_clear_message(served: Server, body: bytes, status: int, message: str) -> None:
    got, answer = served.post("/recommend", raw=body)
    assert got == status, answer
    assert set(answer) == {"error"}
    assert message in answer["error"] and "\n" not in answer["error"]


def test_service_survives_bad_requests_and_keeps_answering(served: Server) -> None:
    for body, _, _ in BAD_REQUESTS:
        served.post("/recommend", raw=body)
    assert served.get("/health")[0] == 200
    assert served.post("/recommend", {"history": ["item00001"], "k": 3})[0] == 200
    assert served.process.poll() is None


def test_wrong_method_and_path_get_4xx(served: Server) -> None:
    assert served.get("/recommend")[0] == 405
    assert served.get("/nothing-here")[0] == 404


def test_model_gives_the_record_its_metrics_and_its_lineage(served: Server) -> None:
    status, body = served.get("/model")
    assert status == 200
    assert body["reference"] == f"{NAME}@production"
    assert body["record"]["reference"] == f"{NAME}@1" and "production" in body["record"]["aliases"]
    assert body["metrics"] == body["record"]["metrics"] and "test" in body["metrics"]
    assert f"{NAME}@1" in json.dumps(body["lineage"])
    assert body["max_length"] == 8


def test_a_transferred_checkpoint_is_served(tiny_template: TinyRegistry) -> None:
    items = catalogue(tiny_template, tiny_template.transferred)
    with running_server(tiny_template, tiny_template.transferred) as server:
        status, answer = server.post("/recommend", {"history": items[:3], "k": 4})
        _, model = server.get("/model")
    expected = cli_recommend(tiny_template, tiny_template.transferred, items[:3], 4)
    assert status == 200 and answer["checkpoint"] == tiny_template.transferred
    assert [row["item"] for row in answer["items"]] == [row["item"] for row in expected["items"]]
    assert f"{NAME}@1" in json.dumps(model["lineage"])  # the source it was grafted from


def test_the_service_never_writes_to_the_registry(tiny_registry: TinyRegistry) -> None:
    database = tiny_registry.root / "registry.db"
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    files = sorted(p.name for p in tiny_registry.store.rglob("*"))
    with tiny_registry.open() as reg:
        records = reg.list_dicts()
    with running_server(tiny_registry, f"{NAME}@production", "--poll-seconds", "0.1") as server:
        for body, _, _ in BAD_REQUESTS[:6]:
            server.post("/recommend", raw=body)
        server.post("/recommend", {"history": ["item00001"], "k": 3})
        server.get("/model")
        time.sleep(0.3)  # a few polls
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tiny_registry.store.rglob("*")) == files
    with tiny_registry.open() as reg:
        assert reg.list_dicts() == records


def test_alias_move_swaps_the_model_with_no_failed_request(tiny_registry: TinyRegistry) -> None:
    history = ["item00001", "item00002", "item00003"]
    answers: list[tuple[int, Any]] = []
    by_thread: list[list[str]] = [[], [], []]
    stop = threading.Event()
    with running_server(tiny_registry, f"{NAME}@production", "--poll-seconds", "0.1") as server:

        def keep_asking(mine: list[str]) -> None:
            while not stop.is_set():
                status, body = server.post("/recommend", {"history": history, "k": 5})
                answers.append((status, body))
                mine.append(body.get("checkpoint", "failed") if isinstance(body, dict) else "failed")

        threads = [threading.Thread(target=keep_asking, args=(mine,)) for mine in by_thread]
        for thread in threads:
            thread.start()
        try:
            while len(answers) < 20:
                time.sleep(0.01)
            with tiny_registry.open() as reg:
                reg.tag(f"{NAME}@2", "production")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and server.get("/health")[1]["checkpoint"] != f"{NAME}@2":
                time.sleep(0.05)
            seen = len(answers)
            while len(answers) < seen + 20:
                time.sleep(0.01)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        _, health = server.get("/health")
        _, model = server.get("/model")
    assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    for answered_by in by_thread:  # each client: the old model, then the new one, never back
        assert answered_by[0] == f"{NAME}@1" and answered_by[-1] == f"{NAME}@2"
        assert answered_by == sorted(answered_by)
    assert health["swaps"] == 1 and model["record"]["reference"] == f"{NAME}@2"
    expected = cli_recommend(tiny_registry, f"{NAME}@2", history, 5)
    assert [row["item"] for row in answers[-1][1]["items"]] == [row["item"] for row in expected["items"]]


def test_a_pinned_version_is_not_re_resolved(tiny_registry: TinyRegistry) -> None:
    with running_server(tiny_registry, f"{NAME}@1", "--poll-seconds", "0.1") as server:
        with tiny_registry.open() as reg:
            reg.tag(f"{NAME}@2", "production")
        time.sleep(0.4)
        assert server.post("/recommend", {"history": ["item00001"]})[1]["checkpoint"] == f"{NAME}@1"

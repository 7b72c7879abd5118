"""``recgraft serve`` serves a closed-form baseline checkpoint as it serves any encoder."""

from __future__ import annotations

from pathlib import Path

from recgraft.data import synthetic_domains
from recgraft.pretrain import pretrain

from .conftest import TinyRegistry, running_server
from .test_app import cli_recommend


def test_ease_is_served_and_answers_like_recommend(tmp_path: Path) -> None:
    tiny = TinyRegistry(tmp_path / "registry")
    source, _ = synthetic_domains(num_users=(60, 30), num_items=(40, 30), seed=0)
    trained = pretrain(source, "ease", {"l2_grid": [10.0]}, {"epochs": 1}, device="cpu")
    with tiny.open() as reg:
        trained.register(reg, name="ease")
    history = [source.items.token(i) for i in (3, 5, 8)]
    with running_server(tiny, "ease@1") as server:
        status, answer = server.post("/recommend", {"history": history, "k": 5})
    assert status == 200, answer
    expected = cli_recommend(tiny, "ease@1", history, 5)
    assert [row["item"] for row in answer["items"]] == [row["item"] for row in expected["items"]]
    assert len(answer["items"]) == 5

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recgraft.registry import (
    CheckpointRecord,
    HasDescendantsError,
    InvalidRecordError,
    InvalidReferenceError,
    NotFoundError,
    Registry,
    RegistryError,
)
from recgraft.registry.files.base import uri_to_path


def test_register_returns_a_full_record(registry: Registry, checkpoint_bytes: Any) -> None:
    data = checkpoint_bytes(b"weights")
    rec = registry.register(
        "ml-1m-transformer",
        data,
        domain="ml-1m",
        encoder="transformer",
        encoder_config={"d": 64, "layers": 2},
        metrics={"ndcg@10": 0.18},
        dataset_fingerprint="sha256:abc",
        device="cuda",
        precision="bfloat16",
        torch_version="2.4.0",
        recgraft_version="0.1.0",
        aliases=["prod"],
        tags=["baseline"],
        extra={"epochs": 10},
    )
    assert isinstance(rec, CheckpointRecord)
    assert (rec.name, rec.version, rec.reference) == ("ml-1m-transformer", 1, "ml-1m-transformer@1")
    assert rec.aliases == ["prod"] and rec.tags == ["baseline"]
    assert rec.encoder_config == {"d": 64, "layers": 2} and rec.metrics == {"ndcg@10": 0.18}
    assert rec.size == len(data) and len(rec.digest) == 64
    assert rec.uri.startswith("file:///") and uri_to_path(rec.uri).is_file()
    assert rec.created_at.tzinfo is not None and rec.created_at.utcoffset() == UTC.utcoffset(None)
    assert (rec.device, rec.precision, rec.torch_version) == ("cuda", "bfloat16", "2.4.0")
    assert rec.extra == {"epochs": 10} and rec.parents == [] and rec.strategy is None
    assert registry.resolve("ml-1m-transformer@1") == rec


def test_versions_count_up_and_references_resolve(make: Any, registry: Registry) -> None:
    first = make(registry, aliases=["prod"])
    second = make(registry)
    assert (first.version, second.version) == (1, 2)
    assert registry.resolve("ml-1m-transformer").version == 2
    assert registry.resolve("ml-1m-transformer@latest").version == 2
    assert registry.resolve("ml-1m-transformer@1").id == first.id
    assert registry.resolve("ml-1m-transformer@prod").id == first.id


@pytest.mark.parametrize(
    ("ref", "error", "match"),
    [
        ("nope", NotFoundError, "no checkpoint named 'nope'"),
        ("ml-1m-transformer@9", NotFoundError, r"no version 9 .* \(latest is 1\)"),
        ("ml-1m-transformer@staging", NotFoundError, "no alias 'staging'"),
        ("a/b", InvalidReferenceError, "path separators"),
        ("", InvalidReferenceError, "empty"),
    ],
)
def test_bad_references(
    make: Any, registry: Registry, ref: str, error: type[Exception], match: str
) -> None:
    make(registry)
    with pytest.raises(error, match=match):
        registry.resolve(ref)


def test_read_bytes_round_trips(make: Any, registry: Registry, checkpoint_bytes: Any) -> None:
    rec = make(registry, data=b"\x00\x01payload")
    assert registry.read_bytes(rec) == checkpoint_bytes(b"\x00\x01payload")
    assert registry.read_bytes("ml-1m-transformer@1") == checkpoint_bytes(b"\x00\x01payload")


def test_same_bytes_share_one_file(make: Any, registry: Registry, checkpoint_bytes: Any) -> None:
    a = make(registry, "a", data=b"same")
    b = make(registry, "b", data=b"same")
    assert a.uri == b.uri
    registry.remove("a")
    assert registry.read_bytes("b") == checkpoint_bytes(b"same")  # still there: b uses it


def test_list_filters_and_orders_newest_first(make: Any, registry: Registry) -> None:
    make(registry, "pre", domain="ml-1m", tags=["gold"])
    make(registry, "pre", domain="ml-1m", encoder="lstm")
    make(registry, "ft", domain="ml-100k", strategy="finetune", parents=[("pre@1", "finetune")])
    assert [r.reference for r in registry.list()] == ["ft@1", "pre@2", "pre@1"]
    assert [r.reference for r in registry.list(name="pre")] == ["pre@2", "pre@1"]
    assert [r.reference for r in registry.list(domain="ml-100k")] == ["ft@1"]
    assert [r.reference for r in registry.list(encoder="lstm")] == ["pre@2"]
    assert [r.reference for r in registry.list(strategy="finetune")] == ["ft@1"]
    assert [r.reference for r in registry.list(tag="gold")] == ["pre@1"]
    assert [r.reference for r in registry.list(limit=1)] == ["ft@1"]
    assert registry.list(name="nobody") == []


def test_parents_are_canonical_references(make: Any, registry: Registry) -> None:
    make(registry, "pre", aliases=["prod"])
    child = make(registry, "ft", parents=[("pre@prod", "finetune")])
    assert child.parents == [("pre@1", "finetune")]
    with pytest.raises(NotFoundError):
        make(registry, "ft", parents=[("pre@7", "finetune")])
    with pytest.raises(InvalidReferenceError):
        make(registry, "ft", parents=[("pre@1", "fine tune")])


def test_tag_moves_alias_and_records_the_move(make: Any, registry: Registry) -> None:
    make(registry, aliases=["prod"])
    make(registry)
    moved = registry.tag("ml-1m-transformer@2", "prod")
    assert moved.aliases == ["prod"] and moved.version == 2
    assert registry.resolve("ml-1m-transformer@prod").version == 2
    assert registry.resolve("ml-1m-transformer@1").aliases == []
    registry.tag("ml-1m-transformer@2", "prod")  # no-op, no event
    history = [
        (e.from_version, e.to_version) for e in registry.alias_history("ml-1m-transformer", "prod")
    ]
    assert history == [(None, 1), (1, 2)]
    with pytest.raises(InvalidReferenceError):
        registry.tag("ml-1m-transformer@2", "7")


def test_register_with_existing_alias_moves_it(make: Any, registry: Registry) -> None:
    make(registry, aliases=["prod"])
    make(registry, aliases=["prod"])
    assert registry.resolve("ml-1m-transformer@prod").version == 2


def test_remove_refuses_with_descendants_unless_forced(make: Any, registry: Registry) -> None:
    make(registry, "pre", aliases=["prod"])
    make(registry, "ft", domain="ml-100k", parents=[("pre@1", "finetune")])
    with pytest.raises(HasDescendantsError, match="ft@1 \\(finetune\\)"):
        registry.remove("pre@1")
    removed = registry.remove("pre@1", force=True)
    assert removed.removed and not uri_to_path(removed.uri).exists()
    with pytest.raises(NotFoundError, match="was removed"):
        registry.resolve("pre@1")
    with pytest.raises(NotFoundError):
        registry.resolve("pre@prod")  # the alias went with it
    assert registry.resolve("ft").parents == [("pre@1", "finetune")]
    assert [r.reference for r in registry.list()] == ["ft@1"]
    assert registry.verify().ok


def test_versions_are_not_reused_after_removal(make: Any, registry: Registry) -> None:
    make(registry)
    make(registry)
    registry.remove("ml-1m-transformer@2")
    assert registry.resolve("ml-1m-transformer").version == 1
    assert make(registry).version == 3


def test_remove_leaf_after_children_removed(make: Any, registry: Registry) -> None:
    make(registry, "pre")
    make(registry, "ft", parents=[("pre@1", "finetune")])
    registry.remove("ft@1")
    assert registry.remove("pre@1").removed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"domain": "a/b"}, "path separators"),
        ({"encoder": ""}, "encoder"),
        ({"encoder_config": {"x": object()}}, "encoder_config"),
        ({"metrics": {"loss": float("nan")}}, "metrics"),
        ({"tags": ["bad tag"]}, "tag"),
        ({"aliases": ["3"]}, "number"),
    ],
)
def test_register_validates_fields(make: Any, registry: Registry, kwargs: dict, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        make(registry, **kwargs)
    assert registry.list() == []


def test_register_rejects_non_bytes(make: Any, registry: Registry) -> None:
    with pytest.raises(InvalidRecordError):
        make(registry, data="text")  # type: ignore[arg-type]


def test_open_reads_environment_at_call_time(
    make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECGRAFT_REGISTRY_URL", raising=False)
    monkeypatch.delenv("RECGRAFT_CHECKPOINTS", raising=False)
    monkeypatch.setenv("RECGRAFT_HOME", str(tmp_path / "h1"))
    with Registry.open() as reg:
        make(reg)
        assert reg.url == f"sqlite:///{(tmp_path / 'h1' / 'registry.db').resolve()}"
        assert reg.store.root == (tmp_path / "h1" / "checkpoints").resolve()
    monkeypatch.setenv("RECGRAFT_HOME", str(tmp_path / "h2"))
    with Registry.open() as reg:
        assert reg.list() == []
    monkeypatch.setenv("RECGRAFT_REGISTRY_URL", f"sqlite:///{tmp_path / 'h1' / 'registry.db'}")
    monkeypatch.setenv("RECGRAFT_CHECKPOINTS", str(tmp_path / "store"))
    with Registry.open() as reg:
        assert len(reg.list()) == 1  # env URL beats the home
        assert reg.store.root == (tmp_path / "store").resolve()
    with Registry.open(url=f"sqlite:///{tmp_path / 'other.db'}") as reg:
        assert reg.list() == []  # an argument beats the env


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with (
        Registry.open(url=f"sqlite:///{tmp_path / 'r.db'}", store=tmp_path / "c") as registry,
        registry.engine.connect() as conn,
    ):
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_session_scope_rolls_back_and_translates(registry: Registry) -> None:
    from recgraft.registry.models import SqlDomain

    with pytest.raises(RegistryError, match="refused"):
        with registry.session_scope() as session:
            session.add(SqlDomain(name="dup"))
            session.add(SqlDomain(name="dup"))
    with registry.session_scope() as session:
        assert session.query(SqlDomain).count() == 0


def test_alias_on_unknown_name_says_the_name_is_unknown(make: Any, registry: Registry) -> None:
    make(registry, "known", aliases=["prod"])
    with pytest.raises(NotFoundError, match="no checkpoint named 'missing'"):
        registry.resolve("missing@prod")
    with pytest.raises(NotFoundError, match="no alias 'staging' on 'known'"):
        registry.resolve("known@staging")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ref=st.one_of(
        st.text(max_size=40),
        st.from_regex(r"(known|missing)@[0-9０-９.a-z]{0,25}", fullmatch=True),
        st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: f"known@{n}"),
    )
)
def test_any_string_resolves_or_raises_a_reference_error(
    make: Any, registry: Registry, ref: str
) -> None:
    if not registry.names():
        make(registry, "known", aliases=["prod"])
    try:
        registry.resolve(ref)
    except (InvalidReferenceError, NotFoundError):
        pass

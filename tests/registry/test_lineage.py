from __future__ import annotations

import json
from typing import Any

import pytest

from recgraft.registry import Registry


@pytest.fixture
def family(make: Any, registry: Registry) -> Registry:
    make(registry, "ml-1m-transformer", domain="ml-1m")
    make(
        registry,
        "ml-100k-ft",
        domain="ml-100k",
        strategy="finetune",
        parents=[("ml-1m-transformer@1", "finetune")],
    )
    make(
        registry,
        "books-fusion",
        domain="books",
        strategy="fusion",
        parents=[("ml-100k-ft@1", "fusion"), ("ml-1m-transformer@1", "fusion")],
    )
    make(registry, "unrelated", domain="music")
    return registry


def test_ancestors_and_descendants_across_domains(family: Registry) -> None:
    graph = family.lineage("ml-100k-ft")
    assert graph.root == "ml-100k-ft@1"
    assert graph.ancestors == ["ml-1m-transformer@1"]
    assert graph.descendants == ["books-fusion@1"]
    assert {n.domain for n in graph.nodes} == {"ml-1m", "ml-100k", "books"}
    edges = {(e.parent, e.child, e.relation) for e in graph.edges}
    assert edges == {
        ("ml-1m-transformer@1", "ml-100k-ft@1", "finetune"),
        ("ml-100k-ft@1", "books-fusion@1", "fusion"),
    }
    top = family.lineage("ml-1m-transformer@1")
    assert sorted(top.descendants) == ["books-fusion@1", "ml-100k-ft@1"]
    assert len(top.edges) == 3


def test_tree_rendering(family: Registry) -> None:
    tree = family.lineage("ml-1m-transformer").to_tree()
    lines = tree.splitlines()
    assert lines[0].startswith("ml-1m-transformer@1 [ml-1m, transformer]")
    assert "finetune: ml-100k-ft@1 [ml-100k, transformer, finetune]" in tree
    assert "fusion: books-fusion@1" in tree and "(see above)" in tree
    assert "unrelated" not in tree


def test_mermaid_rendering(family: Registry) -> None:
    text = family.lineage("ml-100k-ft@1").render("mermaid")
    assert text.splitlines()[0] == "flowchart TD"
    assert "-->|finetune|" in text and "-->|fusion|" in text
    assert ":::current" in text


def test_json_rendering(family: Registry) -> None:
    data = json.loads(family.lineage("books-fusion").render("json"))
    assert data["root"] == "books-fusion@1"
    assert sorted(data["ancestors"]) == ["ml-100k-ft@1", "ml-1m-transformer@1"]
    with pytest.raises(ValueError):
        family.lineage("books-fusion").render("dot")


def test_lineage_survives_forced_removal(family: Registry) -> None:
    family.remove("ml-1m-transformer@1", force=True)
    graph = family.lineage("books-fusion")
    parent = graph.node("ml-1m-transformer@1")
    assert parent.removed and parent.domain == "ml-1m"
    assert "(removed)" in graph.to_tree() and ":::removed" in graph.to_mermaid()
    assert family.lineage("ml-1m-transformer@1").descendants  # a removed root still answers

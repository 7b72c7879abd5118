"""Lineage: a checkpoint's ancestors and descendants, with relations, across domains.

Rendered as an indented tree, a Mermaid flowchart, or JSON. Removed checkpoints stay in the
graph (marked ``removed``); a parent known only by its reference (imported from a bundle
without it) is marked ``missing``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from recgraft.registry.errors import InvalidReferenceError
from recgraft.registry.models import SqlCheckpoint, SqlLineageEdge
from recgraft.registry.references import format_reference, parse_reference

FORMATS = ("tree", "mermaid", "json")


class LineageNode(BaseModel):
    reference: str
    name: str
    version: int | None = None
    domain: str | None = None
    encoder: str | None = None
    strategy: str | None = None
    removed: bool = False
    missing: bool = Field(
        default=False, description="known only by reference, not in this registry"
    )


class LineageEdge(BaseModel):
    parent: str
    child: str
    relation: str


class Lineage(BaseModel):
    """The lineage graph around ``root``: its ancestors, itself and its descendants."""

    root: str
    ancestors: list[str] = Field(default_factory=list)
    descendants: list[str] = Field(default_factory=list)
    nodes: list[LineageNode] = Field(default_factory=list)
    edges: list[LineageEdge] = Field(default_factory=list)

    def node(self, reference: str) -> LineageNode:
        return next(n for n in self.nodes if n.reference == reference)

    # -- rendering -----------------------------------------------------------------------------
    def render(self, fmt: Literal["tree", "mermaid", "json"] | str = "tree") -> str:
        if fmt == "tree":
            return self.to_tree()
        if fmt == "mermaid":
            return self.to_mermaid()
        if fmt == "json":
            return json.dumps(self.to_json(), indent=2)
        raise ValueError(f"unknown lineage format {fmt!r}; use one of {', '.join(FORMATS)}")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def _label(self, node: LineageNode) -> str:
        parts = [p for p in (node.domain, node.encoder, node.strategy) if p]
        label = node.reference + (f" [{', '.join(parts)}]" if parts else "")
        if node.removed:
            label += " (removed)"
        if node.missing:
            label += " (not in this registry)"
        return label

    def to_tree(self) -> str:
        """Top ancestors first, each child indented under its parent, with the relation."""
        children: dict[str, list[LineageEdge]] = {}
        has_parent = set()
        for edge in self.edges:
            children.setdefault(edge.parent, []).append(edge)
            has_parent.add(edge.child)
        by_ref = {n.reference: n for n in self.nodes}
        roots = [n.reference for n in self.nodes if n.reference not in has_parent] or [self.root]
        lines: list[str] = []
        shown: set[str] = set()

        def label(ref: str) -> str:
            text = self._label(by_ref[ref])
            return text + ("  <==" if ref == self.root else "")

        def walk(ref: str, prefix: str) -> None:
            kids = children.get(ref, [])
            for i, edge in enumerate(kids):
                last = i == len(kids) - 1
                branch, pad = ("└── ", "    ") if last else ("├── ", "│   ")
                seen = edge.child in shown
                lines.append(
                    f"{prefix}{branch}{edge.relation}: {label(edge.child)}"
                    + (" (see above)" if seen else "")
                )
                if not seen:
                    shown.add(edge.child)
                    walk(edge.child, prefix + pad)

        for ref in roots:
            lines.append(label(ref))
            shown.add(ref)
            walk(ref, "")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (``flowchart TD``), the root highlighted, removed nodes dashed."""
        ids = {n.reference: f"n{i}" for i, n in enumerate(self.nodes)}
        lines = ["flowchart TD"]
        for node in self.nodes:
            parts = [p for p in (node.domain, node.encoder, node.strategy) if p]
            text = node.reference + ("<br/>" + " · ".join(parts) if parts else "")
            if node.removed:
                text += "<br/>(removed)"
            if node.missing:
                text += "<br/>(not in this registry)"
            cls = ":::current" if node.reference == self.root else ""
            if node.removed or node.missing:
                cls = ":::removed" if not cls else cls
            lines.append(f'    {ids[node.reference]}["{text.replace(chr(34), "#quot;")}"]{cls}')
        for edge in self.edges:
            lines.append(f"    {ids[edge.parent]} -->|{edge.relation}| {ids[edge.child]}")
        lines.append("    classDef current stroke-width:3px")
        lines.append("    classDef removed stroke-dasharray:5 5,color:#888")
        return "\n".join(lines)


def _node(row: SqlCheckpoint) -> LineageNode:
    return LineageNode(
        reference=format_reference(row.name, row.version),
        name=row.name,
        version=row.version,
        domain=row.domain.name,
        encoder=row.encoder,
        strategy=row.strategy,
        removed=row.removed_at is not None,
    )


def build_lineage(session: Session, root: SqlCheckpoint) -> Lineage:
    """Walk parent edges up and child edges down from ``root`` (breadth first, batched)."""
    rows: dict[int, SqlCheckpoint] = {root.id: root}
    edges: dict[int, SqlLineageEdge] = {}
    dangling: dict[str, LineageNode] = {}

    def load(ids: set[int]) -> None:
        missing = ids - rows.keys()
        if missing:
            for row in session.scalars(select(SqlCheckpoint).where(SqlCheckpoint.id.in_(missing))):
                rows[row.id] = row

    ancestors: list[int] = []
    frontier = {root.id}
    while frontier:
        found = session.scalars(
            select(SqlLineageEdge)
            .where(SqlLineageEdge.child_id.in_(frontier))
            .order_by(SqlLineageEdge.id)
        ).all()
        nxt: set[int] = set()
        for edge in found:
            edges[edge.id] = edge
            if edge.parent_id is None:
                name = edge.parent_reference.partition("@")[0]
                dangling[edge.parent_reference] = LineageNode(
                    reference=edge.parent_reference,
                    name=name,
                    version=_version_of(edge.parent_reference),
                    missing=True,
                )
            elif edge.parent_id not in rows and edge.parent_id not in nxt:
                nxt.add(edge.parent_id)
        load(nxt)
        ancestors.extend(sorted(nxt))
        frontier = nxt

    descendants: list[int] = []
    frontier = {root.id}
    visited = {root.id}
    while frontier:
        found = session.scalars(
            select(SqlLineageEdge)
            .where(SqlLineageEdge.parent_id.in_(frontier))
            .order_by(SqlLineageEdge.id)
        ).all()
        nxt = set()
        for edge in found:
            edges[edge.id] = edge
            if edge.child_id not in visited:
                nxt.add(edge.child_id)
                visited.add(edge.child_id)
        load(nxt)
        descendants.extend(sorted(nxt))
        frontier = nxt

    def ref_of(row_id: int | None, fallback: str) -> str:
        if row_id is None:
            return fallback
        row = rows[row_id]
        return format_reference(row.name, row.version)

    ordered = [rows[i] for i in reversed(ancestors)] + [root] + [rows[i] for i in descendants]
    nodes = [_node(r) for r in ordered] + list(dangling.values())
    ancestor_refs = [ref_of(i, "") for i in ancestors] + list(dangling)
    return Lineage(
        root=format_reference(root.name, root.version),
        ancestors=ancestor_refs,
        descendants=[ref_of(i, "") for i in descendants],
        nodes=nodes,
        edges=[
            LineageEdge(
                parent=ref_of(e.parent_id, e.parent_reference),
                child=ref_of(e.child_id, ""),
                relation=e.relation,
            )
            for e in sorted(edges.values(), key=lambda e: e.id)
        ],
    )


def _version_of(reference: str) -> int | None:
    """The version a stored parent reference names, None if it names none (or is malformed)."""
    try:
        return parse_reference(reference).version
    except InvalidReferenceError:
        return None

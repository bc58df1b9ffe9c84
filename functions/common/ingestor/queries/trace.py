"""Automation traces: the causality tree of HA contexts, linked by context.parent_id.

A context's events share its id; an automation run (or a script, a service call it makes) gets a new
context whose parent_id is the context that triggered it. "up" walks parent ids to the topmost known
ancestor, "down" follows children, "both" roots the tree at that ancestor and shows every descendant.
Each direction stops after `depth` levels; the whole tree after MAX_EVENTS events or MAX_NODES contexts
(`truncated: true`). Visited contexts are never visited again, so a parent chain that loops ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingestor.errors import NotFound
from ingestor.store.protocol import EventStore

MAX_EVENTS = 500
MAX_NODES = 200


@dataclass
class Node:
    context_id: str
    parent_id: str | None
    events: list[dict[str, Any]]
    children: list[Node] = field(default_factory=list)

    def shape(self) -> dict[str, Any]:
        return {"context_id": self.context_id, "parent_id": self.parent_id, "events": self.events,
                "children": [c.shape() for c in self.children]}


@dataclass
class Walk:
    store: EventStore
    events: int = 0
    nodes: int = 0
    truncated: bool = False
    seen: set[str] = field(default_factory=set)

    def node(self, context_id: str, events: list[dict[str, Any]], parent_id: str | None = None) -> Node:
        room = max(0, MAX_EVENTS - self.events)
        if len(events) > room:
            self.truncated = True
        kept = events[:room]
        self.events += len(kept)
        self.nodes += 1
        self.seen.add(context_id)
        parents = [e["context"].get("parent_id") for e in events if (e.get("context") or {}).get("parent_id")]
        return Node(context_id, parents[0] if parents else parent_id, kept)

    def full(self) -> bool:
        if self.events >= MAX_EVENTS or self.nodes >= MAX_NODES:
            self.truncated = True
            return True
        return False


def _children(walk: Walk, node: Node) -> list[Node]:
    """The contexts `node` caused, oldest first (from the events that name it as their parent)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in walk.store.by_parent(node.context_id):
        child = (event.get("context") or {}).get("id")
        if child and child not in walk.seen:
            grouped.setdefault(child, []).append(event)
    out = []
    for child, events in grouped.items():
        if walk.full():
            break
        out.append(walk.node(child, events, node.context_id))
    return out


def _down(walk: Walk, root: Node, depth: int) -> int:
    """Breadth first, so a cap keeps the levels nearest the root; returns the levels reached."""
    level, reached = [root], 0
    while level and reached < depth and not walk.full():
        nxt = []
        for node in level:
            if walk.full():
                break
            node.children = _children(walk, node)
            nxt.extend(node.children)
        if nxt:
            reached += 1
        level = nxt
    return reached


def trace(store: EventStore, context_id: str, depth: int, direction: str) -> dict[str, Any]:
    walk = Walk(store)
    start = walk.node(context_id, store.by_context(context_id))
    root, chain, up = start, [start], 0
    if direction in ("up", "both"):
        while root.parent_id and up < depth and root.parent_id not in walk.seen and not walk.full():
            events = store.by_context(root.parent_id)
            if not events:
                break  # the parent is not stored (older than the store, or never sent): root is topmost known
            parent = walk.node(root.parent_id, events)
            parent.children = [root]
            chain.insert(0, parent)
            root, up = parent, up + 1
    down = 0
    if direction == "down":
        down = _down(walk, start, depth)
    elif direction == "both":
        down = _down_both(walk, chain, depth)
    if not start.events and not start.children and (direction != "up" or not store.by_parent(context_id)):
        raise NotFound(f"no stored event has context {context_id!r} or names it as parent")
    return {"context_id": context_id, "root": root.shape(), "depth": depth, "truncated": walk.truncated,
            "event_count": walk.events, "node_count": walk.nodes, "levels_up": up, "levels_down": down}


def _down_both(walk: Walk, chain: list[Node], depth: int) -> int:
    """Descendants of the topmost ancestor, reusing the chain's nodes already read (no event twice)."""
    on_chain = {n.context_id: n for n in chain}
    level, reached = [chain[0]], 0
    while level and reached < depth and not walk.full():
        nxt: list[Node] = []
        for node in level:
            if walk.full():
                break
            known = [c for c in node.children if c.context_id in on_chain]
            node.children = known + _children(walk, node)
            nxt.extend(node.children)
        if nxt:
            reached += 1
        level = nxt
    return reached

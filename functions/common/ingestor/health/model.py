"""A component's status as GET / shows it, and the order of statuses that makes "the worst" well defined."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "degraded", "unhealthy", "unknown"]
Kind = Literal["bridge", "nats", "function", "store", "metadata", "archive", "context", "webhook"]
# "unknown" (not configured, or not deployed) says nothing bad about the system, so it ranks with "ok".
_RANK = {"unknown": 0, "ok": 0, "degraded": 1, "unhealthy": 2}


@dataclass
class Component:
    name: str
    kind: Kind
    status: Status = "ok"
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def worsen(self, status: Status, reason: str) -> None:
        """Record a problem; the component keeps the worst status it has been given."""
        self.reasons.append(reason)
        if _RANK[status] > _RANK[self.status] or self.status == "unknown":
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "status": self.status, "reasons": self.reasons,
                "details": self.details}


def rank(status: Status) -> int:
    """0 for ok and unknown, 1 for degraded, 2 for unhealthy."""
    return _RANK[status]


def overall(components: list[Component]) -> Literal["ok", "degraded", "unhealthy"]:
    """The worst component's status; "unknown" components count as ok."""
    rank = max((_RANK[c.status] for c in components), default=0)
    return "unhealthy" if rank == 2 else "degraded" if rank == 1 else "ok"

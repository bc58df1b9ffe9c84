"""An alert's start and end as the events webhook-dispatch delivers (subject ingestor.subjects.ALERTS).

The event id is derived from the alert and what happened to it, so publishing it again (a crash between
publishing and recording that it was) makes the same delivery, which webhook-dispatch sends once.
"""

from __future__ import annotations

from typing import Any

from ingestor.alerts.store import Alert

DOMAIN = "alert"
STARTED, ENDED = "alert_started", "alert_ended"
EVENT_TYPES = (STARTED, ENDED)


def event(alert: Alert, kind: str) -> dict[str, Any]:
    """`kind`: STARTED or ENDED. `entity_id` is the subject when it is an entity (a component's name otherwise)."""
    return {"event_id": f"{alert.id}:{'start' if kind == STARTED else 'end'}", "event_type": kind,
            "domain": DOMAIN, "time_fired": alert.started_at if kind == STARTED else alert.ended_at,
            "entity_id": alert.subject, "alert": alert.as_dict()}


def is_alert(event_: dict[str, Any]) -> bool:
    return event_.get("domain") == DOMAIN

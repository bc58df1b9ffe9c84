"""Home Assistant events: the real recorded samples, and realistic ones made in bulk."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "ha_samples"  # captured from a real HA 2024.3.3


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"sample_{name}.json").read_text(encoding="utf-8"))


def recorded(name: str) -> list[dict[str, Any]]:
    """The `event` objects of a real HA capture (one message, or a {"messages": [...]} file)."""
    doc = sample(name)
    return [message["event"] for message in doc.get("messages", [doc])]


def get_states() -> list[dict[str, Any]]:
    return sample("get_states")["reply"]["result"]


def sample_events() -> list[dict[str, Any]]:
    """Every recorded state_changed event: a simple one, an automation chain, a template sensor."""
    events = [sample("state_changed")["event"]]
    for name in ("state_changed_parent_chain", "state_changed_same_context"):
        events += [m["event"] for m in sample(name)["messages"]]
    return events


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="microseconds")


def state_changed(entity_id: str, old: str, new: str, at: dt.datetime, unit: str | None = "°C",
                  context_id: str = "01M81G5SZBPYA4SFH7NGDVTTDZ") -> dict[str, Any]:
    """A state_changed event shaped exactly like the recorded sample, with the given values."""
    event = copy.deepcopy(sample("state_changed")["event"])
    data = event["data"]
    data["entity_id"] = data["old_state"]["entity_id"] = data["new_state"]["entity_id"] = entity_id
    data["old_state"]["state"], data["new_state"]["state"] = old, new
    before = at - dt.timedelta(seconds=30)
    data["old_state"]["last_changed"] = data["old_state"]["last_updated"] = _iso(before)
    data["new_state"]["last_changed"] = data["new_state"]["last_updated"] = _iso(at)
    for state in (data["old_state"], data["new_state"]):
        state["attributes"] = {"friendly_name": entity_id, "state_class": "measurement"}
        if unit:
            state["attributes"]["unit_of_measurement"] = unit
    event["time_fired"] = _iso(at)
    event["context"] = {**event["context"], "id": context_id}
    data["new_state"]["context"] = event["context"]
    return event


def many(count: int, prefix: str = "sensor.bulk", start: dt.datetime | None = None) -> list[dict[str, Any]]:
    """`count` distinct numeric state changes over 10 entities, one millisecond apart."""
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    return [state_changed(f"{prefix}_{i % 10}", f"{20 + (i % 7) / 10:.1f}", f"{20 + (i % 9) / 10:.1f}",
                          start + dt.timedelta(milliseconds=i)) for i in range(count)]

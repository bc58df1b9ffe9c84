"""Reading what the bridge published, headers included, in stream order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestor import jsoncodec, subjects
from tests.support.jetstream import JetStreamClient

PROBE = "input_number.bridge_probe"


@dataclass(frozen=True)
class Message:
    seq: int
    msg_id: str | None
    doc: dict[str, Any]


class StreamReader(JetStreamClient):
    def read(self, subject: str) -> list[Message]:
        """Every message on `subject` with its stream sequence and Nats-Msg-Id, oldest first."""
        return [Message(m.seq, m.msg_id, jsoncodec.loads(m.data)) for m in self.stored(subject)]

    def raw_events(self) -> list[dict[str, Any]]:
        return [e for m in self.read(subjects.RAW) for e in m.doc["events"]]

    def probe_events(self) -> list[dict[str, Any]]:
        """state_changed events of input_number.bridge_probe, in stream order."""
        return [e for e in self.raw_events()
                if e.get("event_type") == "state_changed" and e["data"].get("entity_id") == PROBE]


def probe_value(event: dict[str, Any]) -> int | None:
    new_state = event["data"].get("new_state")
    try:
        return int(float(new_state["state"])) if new_state else None
    except ValueError:
        return None

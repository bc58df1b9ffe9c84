"""Dead-letter records (ingestor.dlq) summarised: a reason per record and a key to group reasons by.

Two writers: a stage rejecting single events of a batch (entries with per-event reasons), and the topic
connector dead-lettering a whole message (kind bad_input or max_deliveries, the function's HTTP status
and its error body). Reasons quote the offending values, so they are grouped by a key with quoted
values and numbers blanked: "data.entity_id: … is not a valid entity id" counts every such record,
whether the connector dead-lettered a whole batch for it or a stage rejected one event of a batch.
A record holding several reasons counts under its first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ingestor import jsoncodec, redaction
from ingestor.health.jetstream import StoredMessage
from ingestor.httpapi import iso

MAX_REASON = 300
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_BATCH = re.compile(r"(batch )\S+")


@dataclass(frozen=True)
class DeadLetter:
    time: str | None
    stage: str | None
    reason: str
    key: str
    batch_id: str | None
    events: int
    subject: str | None

    def recent(self) -> dict[str, Any]:
        return {"time": self.time, "stage": self.stage, "reason": self.reason, "batch_id": self.batch_id,
                "events": self.events, "subject": self.subject}


def _blank(reason: str) -> str:
    return _NUMBER.sub("N", _QUOTED.sub("…", _BATCH.sub(r"\1…", reason)))


def reason_key(stage: str | None, reason: str, head: str = "") -> str:
    """`<stage>: [<head>: ]<reason with quoted values and numbers blanked>`; `head` is kept as it is."""
    return f"{stage or 'unknown'}: {head + ': ' if head else ''}{_blank(reason)}"[:MAX_REASON]


def _connector_reason(doc: dict[str, Any], entry: dict[str, Any]) -> tuple[str, str, str]:
    """(reason, head, basis): `HTTP 422 no_valid_event: data.entity_id: 'x' is not …` from the function's
    error body; the events' own reason is what groups it (with a stage's own partial rejections alike)."""
    raw = str(entry.get("reason") or doc.get("kind") or "dead-lettered")
    status = doc.get("status")
    text = raw.split(": ", 1)[1] if raw.startswith("HTTP ") and ": " in raw else raw
    try:
        error = jsoncodec.loads(text).get("error") or {}
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("code"):
        details = error.get("details")
        inner = [str(d["reason"]) for d in details if isinstance(d, dict) and d.get("reason")] \
            if isinstance(details, list) else []
        head = f"HTTP {status} {error['code']}" if status else str(error["code"])
        if inner:  # every event of the batch rejected: the events' own reasons say more than "none passed"
            more = f" (+{len(set(inner)) - 1} other reasons)" if len(set(inner)) > 1 else ""
            return f"{head}: {inner[0]}{more}", "", inner[0]
        message = str(error.get("message", ""))
        return f"{head}: {message}", head, message
    if doc.get("kind") == "max_deliveries":
        return f"failed {doc.get('deliveries')} deliveries: {raw}", f"failed {doc.get('deliveries')} deliveries", raw
    return raw, "", raw


def _batch_id(doc: dict[str, Any], entries: list[Any]) -> str | None:
    payload = entries[0].get("payload") if entries and isinstance(entries[0], dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("batch_id"), str):
        return payload["batch_id"]
    dlq_id = doc.get("dlq_id")
    if isinstance(dlq_id, str) and dlq_id.endswith(":dlq"):
        return dlq_id[: -len(":dlq")]
    return dlq_id if isinstance(dlq_id, str) else None


def parse(message: StoredMessage) -> DeadLetter:
    """One record; a record that is not one (not JSON, wrong shape) is still counted, as unreadable."""
    try:
        doc = jsoncodec.loads(message.data)
    except ValueError:
        doc = None
    when = iso(message.time)
    if not isinstance(doc, dict):
        return DeadLetter(when, None, "unreadable dead-letter record", "unknown: unreadable record", None, 0, None)
    entries = [e for e in doc.get("entries") or [] if isinstance(e, dict)]
    stage = doc.get("stage") if isinstance(doc.get("stage"), str) else None
    if "kind" in doc:  # the connector's: one entry holding the whole message
        reason, head, basis = _connector_reason(doc, entries[0] if entries else {})
        payload = entries[0].get("payload") if entries else None
        events = len(payload["events"]) if isinstance(payload, dict) and isinstance(payload.get("events"), list) \
            else 1
    else:
        reasons = [str(e.get("reason")) for e in entries if e.get("reason")]
        head, basis = "", reasons[0] if reasons else "rejected"
        reason = basis
        if len(set(reasons)) > 1:
            reason += f" (+{len(set(reasons)) - 1} other reasons)"
        events = len(entries)
    reason = redaction.redact(reason)[:MAX_REASON]
    subject = doc.get("subject") if isinstance(doc.get("subject"), str) else None
    key = reason_key(stage, redaction.redact(basis), head)
    return DeadLetter(when, stage, reason, key, _batch_id(doc, entries), events, subject)


def summarise(messages: list[StoredMessage], recent: int) -> dict[str, Any]:
    """Counts by reason key (records and events) over `messages`, and the newest `recent`, newest first."""
    letters = [parse(m) for m in messages]
    records: Counter[str] = Counter(d.key for d in letters)
    events: Counter[str] = Counter()
    for letter in letters:
        events[letter.key] += letter.events
    by_reason = [{"reason": key, "count": count, "events": events[key]} for key, count in records.most_common()]
    return {"scanned": len(letters), "by_reason": by_reason,
            "recent": [d.recent() for d in reversed(letters[-recent:])] if recent > 0 else []}

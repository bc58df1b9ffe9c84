"""The bridge's own record of a gap, for an HA whose logbook cannot tell what happened during it.

With HA's logbook, a restart of HA comes back as HA's own homeassistant_stop and homeassistant_start
(logbook.py). Without it, the bridge records each gap as two events of its own: `ha_disconnected` at the
last moment it had heard from HA (the cursor) and `ha_reconnected` when it subscribed again, both with the
gap's bounds, the reason the connection ended and `observed_by` (the replica): the bridge cannot tell an HA
restart from a network drop or its own restart, and each replica reports what it saw. Their times are HA's
clock where known (the cursor) and the bridge's estimate of it otherwise; their ids are deterministic, so
a replay of the same observation collides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from ingestor.timeutil import format_timestamp


def gap_events(replica: str, start: dt.datetime, end: dt.datetime, reason: str) -> list[dict[str, Any]]:
    data = {"observed_by": replica, "gap_start": format_timestamp(start), "gap_end": format_timestamp(end),
            "reason": reason}
    events = []
    for kind, when in (("ha_disconnected", start), ("ha_reconnected", end)):
        digest = hashlib.blake2b(f"{kind}|{replica}|{format_timestamp(when)}".encode(), digest_size=16).hexdigest()
        events.append({"event_type": kind, "data": dict(data), "origin": "LOCAL", "time_fired": when.isoformat(),
                       "context": {"id": f"bridge-{digest}", "parent_id": None, "user_id": None}})
    return events

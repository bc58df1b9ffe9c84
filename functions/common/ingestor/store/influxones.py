"""`one=1i`: a field every event point carries, so InfluxDB counts raw points without decoding their ids.

InfluxDB decodes every block of a field a statement touches (up to 1,000 values per series and block), so a
count of a range's raw edge of a few minutes over every series read a block of `event_id` strings per series:
150-420 ms in an older, compacted shard at 10 million events. An integer that is the same on every point is
stored run-length encoded, and its blocks cost next to nothing to decode. Counts (and a raw edge's newest times)
read it once every event point holds it, which the point READY says; until then they read `event_id` as before.

`write` gives every point the field (lineprotocol.point), and a database without events marks READY at its first
write. A database written before the field gets it in place: InfluxDB merges the fields of points with the same
measurement, tags and time, so `python -m ingestor.store ones` writes `one=1i` alone for every stored event,
hour by hour (`lines`), then READY. A point is counted by this field only where it has an `event_id` (every event
has one: ingestor.record), so both count the same points. A delete running while the fill does can race it:
an event deleted between its hour's read and write would come back as a point with this field alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingestor.store.lineprotocol import ONE, _tag_value

FIELD = ONE
LINE_FIELD = f"{FIELD}=1i"
READY = "ones_ready"


def counted(ready: bool) -> str:
    """The field whose count is the number of event points: FIELD once READY, else `event_id`."""
    return FIELD if ready else "event_id"


def lines(series: Iterable[dict[str, Any]]) -> list[str]:
    """`one=1i` for every row of `series` (events' rows read with GROUP BY *, times in µs), at its measurement,
    tags and time: merged by InfluxDB into the stored point. A tag value read back is written as `point` wrote
    it (`_tag_value` leaves a value it made alone), so the line names the same series."""
    out: list[str] = []
    for s in series:
        tags = s.get("tags") or {}
        head = s["name"] + "".join(f",{k}={_tag_value(v)}" for k, v in sorted(tags.items()) if v)
        at = s["columns"].index("time")
        out += [f"{head} {LINE_FIELD} {int(row[at])}" for row in s.get("values", [])]
    return out

"""`python -m ingestor.store move [URL]`: move a database of the first layout into the tiered layout now, in
the foreground, printing progress (what the first start of the store otherwise does in the background while
it answers 503).
`python -m ingestor.store rollups [URL]`: on InfluxDB, sum the rollups of the events written before rollups
existed (until then reads answer from raw points).
`python -m ingestor.store stays [URL]`: on SQL stores, pack the stays of the days compacted before schema step 11
(store/coldstays.py; until then the duration anomalies read those days' blocks), one series and day at a time:
what `write` otherwise does in compaction's spare time. On InfluxDB, pack every day's stays of a database
written before packs (store/influxstays.py; until then the duration anomalies read raw points), a day at a time.
`python -m ingestor.store ones [URL]`: on InfluxDB, give every event point written before the field `one` it, in
place, hour by hour (store/influxones.py; until then counts of raw points read the events' ids).
`python -m ingestor.store sums [URL]`: on InfluxDB, pack the stay rollups of every hour and day written before
those packs (store/influxsums.py; until then the durations' items read the stay rollups' series), a day at a
time, from the rollups (no raw point read).
`python -m ingestor.store counts [URL]`: on InfluxDB, pack the event counts of every hour and day written before
those packs (store/influxcounts.py; until then counts grouped by the events' tags read the rollups' series), a day
at a time, from the rollups (no raw point read).
URL defaults to EVENT_STORE_URL (else the SQLite file in DATA_DIR). All are safe to stop and rerun."""

from __future__ import annotations

import sys
import time
from typing import Any

from ingestor.store import default_url, layout, open_event_store
from ingestor.store.migrate import upgrade
from ingestor.store.sqlschema import MIGRATIONS


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("move", "rollups", "stays", "ones", "sums", "counts"):
        print(__doc__, file=sys.stderr)
        return 2
    store = open_event_store(argv[1] if len(argv) > 1 else default_url())
    if argv[0] == "stays":
        return fill_stays(store)
    if argv[0] == "ones":
        return fill_ones(store)
    if argv[0] in ("sums", "counts"):
        return fill_days(store, argv[0])
    if argv[0] == "rollups":
        if not hasattr(store, "build_rollups"):
            print("SQL stores write their rollups with the events (and the move builds them)", file=sys.stderr)
            return 2
        store.build_rollups(lambda line: print(line, flush=True))
        return 0
    if not hasattr(store, "engine"):
        print("only SQL stores have a layout to move", file=sys.stderr)
        return 2
    upgrade(store.engine, MIGRATIONS)
    if not layout.claim(store):
        print(f"another process holds the move's lease (it lapses {layout.LEASE_S} s after its last batch)",
              file=sys.stderr)
        return 1
    started, moved = time.monotonic(), 0
    while True:
        n = layout.move(store, batches=20)
        moved += n
        print(f"{moved:,} events moved in {time.monotonic() - started:,.0f} s", flush=True)
        if n == 0:
            return 0


def fill_stays(store: Any) -> int:
    if not hasattr(store, "fill_stays"):
        print("this store keeps no packed stays", file=sys.stderr)
        return 2
    started, days, stays = time.monotonic(), 0, 0
    for _, _, n in store.fill_stays():
        days, stays = days + 1, stays + n
        if days % 500 == 0:
            print(f"{days:,} series-days packed ({stays:,} stays) in {time.monotonic() - started:,.0f} s", flush=True)
    print(f"done: {days:,} series-days packed ({stays:,} stays) in {time.monotonic() - started:,.1f} s", flush=True)
    return 0


def fill_ones(store: Any) -> int:
    if not hasattr(store, "fill_ones"):
        print("only InfluxDB stores count a field of their own", file=sys.stderr)
        return 2
    started, hours, points = time.monotonic(), 0, 0
    for _, n in store.fill_ones():
        hours, points = hours + 1, points + n
        if hours % 24 == 0:
            print(f"{hours:,} hours ({points:,} points) in {time.monotonic() - started:,.0f} s", flush=True)
    print(f"done: {hours:,} hours ({points:,} points) in {time.monotonic() - started:,.1f} s", flush=True)
    return 0


def fill_days(store: Any, what: str) -> int:
    """`sums` or `counts`: the store's fill_sums or fill_counts, a day at a time."""
    fill = getattr(store, f"fill_{what}", None)
    if fill is None:
        print("only InfluxDB stores pack their rollups", file=sys.stderr)
        return 2
    started, days = time.monotonic(), 0
    for _ in fill():
        days += 1
        if days % 30 == 0:
            print(f"{days:,} days in {time.monotonic() - started:,.0f} s", flush=True)
    print(f"done: {days:,} days in {time.monotonic() - started:,.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

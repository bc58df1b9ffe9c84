"""The rows a fresh SQLite event store commits, read as they arrive, for the benchmarks that time when events
become stored (pipeline throughput, end-to-end latency, bridge failover).

They read the hot tier in commit order (its rowid), since the store interface answers by time_fired and a
backfilled event arrives with an old one. A benchmark's store is fresh, so nothing is compacted out of the hot
tier during a run (docs/design.md, Stores).
"""

from __future__ import annotations

NEW_ROWS = ("SELECT h.rowid, s.entity_id, h.state, h.ts FROM hot_events h JOIN series s ON s.id = h.series "
            "WHERE h.rowid > ? ORDER BY h.rowid")
"""(rowid, entity_id, state, time_fired in µs) of the rows committed after a rowid."""
LAST_ROWID = "SELECT coalesce(max(rowid), 0) FROM hot_events"
ENTITIES_BETWEEN = ("SELECT count(*) FROM hot_events h JOIN series s ON s.id = h.series "
                    "WHERE s.entity_id >= ? AND s.entity_id < ?")
"""Rows whose entity_id sorts in [low, high)."""

"""write: stores each batch of event records in the event store (SQLite, PostgreSQL or InfluxDB).

Idempotent on event_id, so a redelivered batch adds nothing. A coalesced call's batches are written together, in one
transaction of the SQL store (ingestor.stage's deliver_all). While the store is down it answers
503 and the topic connector redelivers later; records the store cannot take are dead-lettered.
"""

from __future__ import annotations

from ingestor import record, store, subjects
from ingestor.stage import Stage

STAGE = Stage("write", subjects.ENRICHED, record.check, deliver_all=store.write_batches, health=store.health_report)
handle, health = STAGE.handle, STAGE.health

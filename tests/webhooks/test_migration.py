"""A metadata DB made by the previous version (schema 3, webhook tables without the circuit's columns) is
upgraded in place: its webhooks and deliveries stay, and a webhook that version paused (with a delivery still
pending, as a race could leave it) is probed and resumes by itself."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, insert, text

from ingestor.bus import Bus
from ingestor.metadata.schema import MIGRATIONS
from ingestor.store.migrate import current_version, upgrade
from ingestor.store.sqlengine import engine_for
from ingestor.webhooks.store import WebhookStore, now_iso
from tests.webhooks.events import ha_record
from tests.webhooks.receiver import receiving
from tests.webhooks.sweeping import FAST, SETTLE_S, running, sweep_until

SECRET = "migration-test-secret-001"
STAMP = now_iso(-600)  # ten minutes ago: within the hold bound

old = MetaData()  # the webhook tables as Migration 2 made them before Migration 4
Table("webhooks", old, Column("id", String(40), primary_key=True), Column("name", Text, nullable=False),
      Column("url", Text, nullable=False), Column("secret", Text, nullable=False),
      Column("filters", Text, nullable=False), Column("enabled", Boolean, nullable=False),
      Column("paused", Boolean, nullable=False), Column("paused_reason", Text), Column("paused_at", String(32)),
      Column("consecutive_failures", Integer, nullable=False), Column("created_at", String(32), nullable=False),
      Column("updated_at", String(32), nullable=False), Column("last_delivery_at", String(32)),
      Column("last_status", Integer))
Table("webhook_deliveries", old, Column("delivery_id", String(64), primary_key=True),
      Column("webhook_id", String(40), nullable=False, index=True), Column("event_id", String(128), nullable=False),
      Column("event_type", String(128)), Column("payload", Text, nullable=False),
      Column("state", String(16), nullable=False), Column("attempts", Integer, nullable=False),
      Column("next_attempt_at", String(32)), Column("lease_owner", String(40)), Column("lease_until", String(32)),
      Column("last_status", Integer), Column("last_error", Text), Column("created_at", String(32), nullable=False),
      Column("updated_at", String(32), nullable=False), Index("ix_webhook_deliveries_due", "state", "next_attempt_at"))
Table("webhook_attempts", old, Column("id", Integer, primary_key=True, autoincrement=True),
      Column("webhook_id", String(40), nullable=False), Column("delivery_id", String(64), nullable=False),
      Column("event_id", String(128)), Column("event_type", String(128)), Column("attempt", Integer, nullable=False),
      Column("status_code", Integer), Column("latency_ms", Float), Column("error", Text),
      Column("outcome", String(16), nullable=False), Column("at", String(32), nullable=False))


def previous_version(url: str, receiver_url: str) -> None:
    engine = engine_for(url)
    upgrade(engine, MIGRATIONS[:1])
    with engine.begin() as conn:
        old.create_all(conn)
        conn.execute(text("INSERT INTO schema_version (version) VALUES (2)"))
    upgrade(engine, MIGRATIONS[:3])
    with engine.begin() as conn:
        conn.execute(insert(old.tables["webhooks"]), [{
            "id": "wh_000000000000000000000001", "name": "old", "url": receiver_url, "secret": SECRET,
            "filters": '{"event_types":["*"]}', "enabled": True, "paused": True, "consecutive_failures": 10,
            "paused_reason": "paused after 10 consecutive failed attempts; last: HTTP 500", "paused_at": STAMP,
            "created_at": STAMP, "updated_at": STAMP}])
        conn.execute(insert(old.tables["webhook_deliveries"]), [
            {"delivery_id": "dlv_skipped", "webhook_id": "wh_000000000000000000000001", "event_id": "e1",
             "state": "skipped_paused", "payload": "", "attempts": 1, "created_at": STAMP, "updated_at": STAMP},
            {"delivery_id": "dlv_pending", "webhook_id": "wh_000000000000000000000001", "event_id": "e2",
             "event_type": "state_changed", "state": "pending", "attempts": 0, "next_attempt_at": STAMP,
             "payload": '{"event_id":"e2","entity_id":"light.old"}', "created_at": STAMP, "updated_at": STAMP}])
        assert current_version(conn) == 3
    engine.dispose()


def test_a_database_of_the_previous_version_is_upgraded_and_its_paused_webhook_resumes(
        db_url: str, nats: Bus) -> None:
    with receiving(SECRET) as rx:
        previous_version(db_url, rx.url)
        store = WebhookStore(db_url)
        hook = store.get("wh_000000000000000000000001")
        assert hook is not None and (hook.state, hook.failing_since) == ("paused", None)
        assert store.deliveries_by_state(hook.id) == {"skipped_paused": 1, "pending": 1}
        with running(store, FAST, nats) as dispatcher:
            assert sweep_until(dispatcher, rx.delivered, SETTLE_S)
            later = dispatcher.dispatch([ha_record("light.new")])
        assert [r.json()["event"]["entity_id"] for r in rx.delivered()] == ["light.old", "light.new"]
        assert later.delivered == 1 and store.get(hook.id).state == "active"
        assert store.deliveries_by_state(hook.id) == {"skipped_paused": 1, "delivered": 2}
        with store.engine.connect() as conn:
            assert current_version(conn) == MIGRATIONS[-1].version

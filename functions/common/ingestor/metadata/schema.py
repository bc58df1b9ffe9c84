"""Metadata tables and their migrations. Rows are never deleted: a thing HA no longer has is marked removed."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Connection, Integer, MetaData, String, Table, Text

from ingestor.alerts.schema import create as _v5_alerts
from ingestor.sports.schema import create as _v3_sports
from ingestor.store.migrate import Migration
from ingestor.webhooks.schema import add_circuit as _v4_webhook_circuit
from ingestor.webhooks.schema import create as _v2_webhooks

metadata = MetaData()


def _tracking() -> list[Column]:
    return [Column("last_snapshot", String(64)), Column("updated_at", String(32)), Column("removed_at", String(32))]


areas = Table(
    "areas", metadata,
    Column("area_id", String(255), primary_key=True),
    Column("name", Text),
    Column("aliases", Text),  # JSON list
    Column("icon", Text),
    *_tracking(),
)

devices = Table(
    "devices", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("name", Text),
    Column("name_by_user", Text),
    Column("manufacturer", Text),
    Column("model", Text),
    Column("area_id", String(255), index=True),
    Column("sw_version", Text),
    Column("hw_version", Text),
    Column("serial_number", Text),
    Column("via_device_id", String(64)),
    Column("entry_type", String(32)),
    Column("disabled_by", String(32)),
    Column("identifiers", Text),  # JSON
    Column("config_entries", Text),  # JSON
    *_tracking(),
)

entities = Table(
    "entities", metadata,
    Column("entity_id", String(255), primary_key=True),
    Column("domain", String(64), index=True),
    Column("in_registry", Boolean, nullable=False, default=False),
    Column("registry_id", String(64)),
    Column("unique_id", Text),
    Column("platform", String(64), index=True),
    Column("device_id", String(64), index=True),
    Column("area_id", String(255), index=True),
    Column("name", Text),
    Column("original_name", Text),
    Column("entity_category", String(32)),
    Column("disabled_by", String(32)),
    Column("hidden_by", String(32)),
    Column("icon", Text),
    Column("friendly_name", Text),  # from the entity's current state
    Column("device_class", String(64)),
    Column("unit_of_measurement", String(64)),
    Column("state", Text),
    Column("last_changed", String(32)),
    *_tracking(),
)

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", String(32)),
)

registry_parts = Table(
    "registry_parts", metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("parts", Integer, nullable=False),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=[areas, devices, entities, settings, registry_parts])


MIGRATIONS = [Migration(1, "areas, devices, entities, settings, registry parts", _v1_initial),
              Migration(2, "webhooks and deliveries", _v2_webhooks),
              Migration(3, "sports games and scores", _v3_sports),
              Migration(4, "webhook circuit, held and dead-lettered deliveries", _v4_webhook_circuit),
              Migration(5, "alerts and their history", _v5_alerts)]

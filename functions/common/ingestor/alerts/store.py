"""Alerts in the metadata DB: open, close, list; and which starts and ends are still to be published."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from ingestor import hometime, jsoncodec
from ingestor.alerts.rules import Finding
from ingestor.alerts.schema import alerts
from ingestor.metadata.database import MetadataDatabase
from ingestor.metadata.registry import stored_ha_config
from ingestor.metadata.schema import entities, settings

a = alerts
THRESHOLDS = "alert_thresholds"
"""The metadata DB's `settings` row holding the thresholds changed through the API: {ALERT_…: value}."""


@dataclass(frozen=True)
class Alert:
    id: str
    rule: str
    subject: str
    severity: str
    summary: str
    evidence: dict[str, Any]
    started_at: str
    ended_at: str | None
    end_evidence: dict[str, Any] | None
    start_sent: bool
    end_sent: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.subject

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "subject": self.subject, "severity": self.severity,
                "summary": self.summary, "started_at": self.started_at, "ended_at": self.ended_at,
                "active": self.ended_at is None, "evidence": self.evidence, "end_evidence": self.end_evidence}


def alert_id(rule: str, subject: str, started_at: str) -> str:
    return "alr_" + hashlib.sha256(f"{rule}\n{subject}\n{started_at}".encode()).hexdigest()[:32]


def _alert(row: Any) -> Alert:
    return Alert(row.id, row.rule, row.subject, row.severity, row.summary, jsoncodec.loads(row.evidence),
                 row.started_at, row.ended_at, jsoncodec.loads(row.end_evidence) if row.end_evidence else None,
                 bool(row.start_sent), bool(row.end_sent))


class AlertStore(MetadataDatabase):
    def active(self) -> list[Alert]:
        with self.transaction() as conn:
            rows = conn.execute(select(a).where(a.c.ended_at.is_(None)).order_by(a.c.started_at.desc(), a.c.id))
            return [_alert(r) for r in rows]

    def history(self, limit: int, before: str | None = None) -> list[Alert]:
        """Every alert, active or ended, newest start first; `before` continues after an alert id."""
        query = select(a).order_by(a.c.started_at.desc(), a.c.id.desc()).limit(limit)
        with self.transaction() as conn:
            if before:
                anchor = conn.execute(select(a.c.started_at, a.c.id).where(a.c.id == before)).first()
                if anchor is not None:
                    query = query.where(or_(a.c.started_at < anchor.started_at,
                                            and_(a.c.started_at == anchor.started_at, a.c.id < anchor.id)))
            return [_alert(r) for r in conn.execute(query)]

    def apply(self, opened: list[Finding], closed: list[tuple[Alert, dict[str, Any]]], at: str) -> list[Finding]:
        """Open an alert per finding and close the given ones, in one transaction. Returns the findings
        actually opened (another evaluator may have opened the same one first)."""
        done = []
        with self.transaction(write=True) as conn:
            for alert, evidence in closed:
                conn.execute(update(a).where(a.c.id == alert.id, a.c.ended_at.is_(None))
                             .values(ended_at=at, end_evidence=jsoncodec.dumps(evidence).decode()))
            for f in opened:
                exists = conn.execute(select(a.c.id).where(a.c.rule == f.rule, a.c.subject == f.subject,
                                                           a.c.ended_at.is_(None))).first()
                if exists is None:
                    conn.execute(insert(a).values(
                        id=alert_id(f.rule, f.subject, at), rule=f.rule, subject=f.subject, severity=f.severity,
                        summary=f.summary, evidence=jsoncodec.dumps(f.evidence).decode(), started_at=at,
                        start_sent=False, end_sent=False))
                    done.append(f)
        return done

    def sensors_in(self, units: Iterable[str]) -> dict[str, str]:
        """The registry's sensors whose unit is one of `units` (power's or energy's), with that unit."""
        e = entities
        with self.transaction() as conn:
            rows = conn.execute(select(e.c.entity_id, e.c.unit_of_measurement).where(
                e.c.domain == "sensor", e.c.unit_of_measurement.in_(sorted(units)), e.c.removed_at.is_(None)))
            return {r.entity_id: r.unit_of_measurement for r in rows}

    def home_clock(self) -> hometime.HomeClock:
        """The home's clock (HA's time zone, from the config metadata-sync keeps): "the same hour of the day" is
        the home's hour."""
        with self.transaction() as conn:
            return hometime.of(stored_ha_config(conn))

    def removed(self, entity_ids: set[str]) -> set[str]:
        """Those of `entity_ids` removed from HA's registry: a sensor removed is not silent, it is gone."""
        if not entity_ids:
            return set()
        e = entities
        with self.transaction() as conn:
            return set(conn.execute(select(e.c.entity_id).where(e.c.entity_id.in_(sorted(entity_ids)),
                                                                e.c.removed_at.is_not(None))).scalars())

    def thresholds(self) -> dict[str, Any]:
        """The thresholds changed through the API (they override the environment's)."""
        with self.transaction() as conn:
            row = conn.execute(select(settings.c.value).where(settings.c.key == THRESHOLDS)).first()
        return jsoncodec.loads(row.value) if row else {}

    def set_thresholds(self, values: dict[str, Any], at: str) -> None:
        with self.transaction(write=True) as conn:
            conn.execute(delete(settings).where(settings.c.key == THRESHOLDS))
            if values:
                conn.execute(insert(settings).values(key=THRESHOLDS, value=jsoncodec.dumps(values).decode(),
                                                     updated_at=at))

    def unsent(self) -> list[Alert]:
        """Alerts whose start, or end, is not yet published, oldest first."""
        with self.transaction() as conn:
            rows = conn.execute(select(a).where(or_(a.c.start_sent.is_(False),
                                                    and_(a.c.ended_at.is_not(None), a.c.end_sent.is_(False))))
                                .order_by(a.c.started_at, a.c.id))
            return [_alert(r) for r in rows]

    def mark_sent(self, alert: Alert) -> None:
        values: dict[str, Any] = {"start_sent": True}
        if alert.ended_at is not None:
            values["end_sent"] = True
        with self.transaction(write=True) as conn:
            conn.execute(update(a).where(a.c.id == alert.id).values(**values))



"""What a database holds, as Grafana sees it: measurements, tag keys, field keys with types, every point."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ingestor.store import influxrollups
from tests.support.servers import InfluxDB1Server


def influxql(server: InfluxDB1Server, db: str, q: str) -> list[dict[str, Any]]:
    """The series of one statement (epoch ns); an error in the answer fails the test."""
    url = f"{server.base_url}/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "ns"})
    with urllib.request.urlopen(url, timeout=30) as r:
        (result,) = json.loads(r.read())["results"]
    assert "error" not in result, (q, result)
    return result.get("series", [])


def write(server: InfluxDB1Server, db: str, body: bytes, precision: str | None) -> None:
    params = {"db": db, **({"precision": precision} if precision else {})}
    request = urllib.request.Request(f"{server.base_url}/write?{urllib.parse.urlencode(params)}", body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 204


def create(server: InfluxDB1Server, db: str) -> str:
    request = urllib.request.Request(f"{server.base_url}/query", urllib.parse.urlencode(
        {"q": f'CREATE DATABASE "{db}"'}).encode(), method="POST")
    urllib.request.urlopen(request, timeout=30).close()
    return db


def _drop_all(server: InfluxDB1Server, db: str) -> None:
    statements = "; ".join(f"DROP MEASUREMENT {_quoted(name)}" for name in measurements(server, db))
    if statements:
        request = urllib.request.Request(f"{server.base_url}/query?db={urllib.parse.quote(db)}",
                                         urllib.parse.urlencode({"q": statements}).encode(), method="POST")
        urllib.request.urlopen(request, timeout=30).close()


def emptied(server: InfluxDB1Server, db: str, quiet: float = 3, timeout: float = 60) -> None:
    """Every measurement dropped (schema too) once its writer has gone quiet, the database left in place for it:
    dropped again until nothing more arrives within `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        _drop_all(server, db)
        time.sleep(quiet)
        left = measurements(server, db)
        if not left:
            return
        assert time.monotonic() < deadline, f"{db} still gets writes: {left}"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def measurements(server: InfluxDB1Server, db: str) -> list[str]:
    return sorted(v[0] for s in influxql(server, db, "SHOW MEASUREMENTS") for v in s["values"])


def event_measurements(server: InfluxDB1Server, db: str) -> set[str]:
    """HA Ingestor's own measurements of events (the ones with an event_type tag)."""
    return {s["name"] for s in influxql(server, db, 'SHOW TAG VALUES WITH KEY = "event_type"')}


def own_measurements(server: InfluxDB1Server, db: str) -> set[str]:
    """Every measurement HA Ingestor writes beside HA's: its events' and its rollups'."""
    return event_measurements(server, db) | set(influxrollups.MEASUREMENTS) | influxrollups.MARKERS


@dataclass(frozen=True)
class Measurement:
    tag_keys: tuple[str, ...]
    field_keys: tuple[tuple[str, str], ...]  # (name, type)
    points: tuple[tuple[int, tuple[tuple[str, str], ...], tuple[tuple[str, Any], ...]], ...]  # (ns, tags, fields)


def snapshot(server: InfluxDB1Server, db: str, leave_out: set[str] | None = None) -> dict[str, Measurement]:
    """Every measurement but `leave_out`: its schema and its points."""
    found = {}
    for name in measurements(server, db):
        if name in (leave_out or set()):
            continue
        m = _quoted(name)
        tag_keys = tuple(sorted(v[0] for s in influxql(server, db, f"SHOW TAG KEYS FROM {m}") for v in s["values"]))
        fields = tuple(sorted((v[0], v[1]) for s in influxql(server, db, f"SHOW FIELD KEYS FROM {m}")
                              for v in s["values"]))
        points = []
        for s in influxql(server, db, f"SELECT * FROM {m} GROUP BY *"):
            tags = tuple(sorted((k, v) for k, v in (s.get("tags") or {}).items() if v != ""))
            for row in s["values"]:
                columns = dict(zip(s["columns"], row, strict=True))
                values = tuple(sorted((k, v) for k, v in columns.items() if k != "time" and v is not None))
                points.append((columns["time"], tags, values))
        found[name] = Measurement(tag_keys, fields, tuple(sorted(points, key=repr)))
    return found


def point_count(server: InfluxDB1Server, db: str, leave_out: set[str] | None = None) -> int:
    return sum(len(m.points) for m in snapshot(server, db, leave_out).values())


def differences(a: dict[str, Measurement], b: dict[str, Measurement]) -> list[str]:
    """Readable differences, measurement by measurement (empty when the two are identical)."""
    out = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            out.append(f"{name!r} only in {'A' if name in a else 'B'}")
            continue
        ma, mb = a[name], b[name]
        if ma.tag_keys != mb.tag_keys:
            out.append(f"{name!r} tag keys: A {ma.tag_keys} B {mb.tag_keys}")
        if ma.field_keys != mb.field_keys:
            out.append(f"{name!r} field keys: A-B {sorted(set(ma.field_keys) - set(mb.field_keys))} "
                       f"B-A {sorted(set(mb.field_keys) - set(ma.field_keys))}")
        pa, pb = set(ma.points), set(mb.points)
        out += [f"{name!r} point only in A: {p}" for p in sorted(pa - pb, key=repr)[:5]]
        out += [f"{name!r} point only in B: {p}" for p in sorted(pb - pa, key=repr)[:5]]
    return out

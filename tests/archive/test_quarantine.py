"""A day that cannot be archived is quarantined with its reason and the exact recovery step: later days go on,
status and health name it, and the documented step (CLI or HTTP) recovers it."""

from __future__ import annotations

import datetime as dt
import json
from types import ModuleType
from typing import Any

import pytest

from ingestor.archive import api, layout
from ingestor.health import rules
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.archive.conftest import day_records, days_ago, invoke, keys
from tests.archive.test_handler import command

pytestmark = pytest.mark.integration
STUCK, LATER = days_ago(400), [days_ago(399), days_ago(398)]


def old_rows(handler: ModuleType) -> list[dt.date]:
    flt = EventFilter(end=dt.datetime.now(dt.UTC) - dt.timedelta(days=365))
    return [b.start.date() for b in api.jobs().store.buckets(flt, 86_400)]


def test_an_unreadable_manifest_quarantines_its_day_later_days_go_on_and_repair_recovers_it(
        handler: ModuleType, function_env: dict[str, str], s3: Any, bucket_name: str) -> None:
    assert invoke(handler, "POST", "/")[0] == 200  # both old days archived and pruned
    assert invoke(handler, "POST", "/restore", {"from": str(STUCK)})[0] == 200  # STUCK back in the store
    manifest = layout.manifest_key("ha/", STUCK)
    s3.put_object(Bucket=bucket_name, Key=manifest, Body=b'{"v": 2, "object": trunc')
    api.jobs().store.write(day_records(LATER[1]))

    status, body = invoke(handler, "POST", "/")
    assert status == 503 and body["error"]["code"] == "archive_failed"
    outcomes = {d["day"]: d["outcome"] for d in body["error"]["details"]["days"]}
    assert outcomes == {str(STUCK): "quarantined", str(LATER[1]): "archived"}
    assert old_rows(handler) == [STUCK]  # the quarantined day keeps its rows

    status, info = invoke(handler, "GET", "/status")
    [held] = info["quarantined"]
    assert held["day"] == str(STUCK) and "manifest" in held["reason"] and "unreadable" in held["reason"]
    step = f"python -m ingestor.archive recover {STUCK} --action repair"
    assert held["recovery"]["cli"] == step
    assert held["recovery"]["http"] == f"POST /function/retention-archive/recover?day={STUCK}&action=repair"
    assert any(e.startswith(f"{STUCK} quarantined: ") and e.endswith(f"recover: {step}") for e in info["errors"])
    health = rules.archive(info)
    assert health.status == "degraded" and health.details["quarantined"] == [str(STUCK)]
    assert any(str(STUCK) in reason and step in reason for reason in health.reasons)

    again = invoke(handler, "POST", "/")[1]  # a later run skips it and is otherwise fine
    assert [(d["day"], d["outcome"]) for d in again["days"]] == [(str(STUCK), "quarantined")]

    code, recovered, _ = command(function_env, "recover", str(STUCK), "--action", "repair")  # the documented step
    assert code == 0, recovered
    assert recovered["repaired"]["rows"] == 48 and recovered["result"]["outcome"] == "pruned"
    assert old_rows(handler) == []
    status, info = invoke(handler, "GET", "/status")
    assert info["quarantined"] == [] and not any("quarantined" in e for e in info["errors"])


def test_a_damaged_object_of_a_pruned_day_plus_a_late_event_is_quarantined_and_rebuild_recovers_it(
        handler: ModuleType, s3: Any, bucket_name: str) -> None:
    assert invoke(handler, "POST", "/")[0] == 200
    archived = s3.get_object(Bucket=bucket_name, Key=layout.manifest_key("ha/", STUCK))["Body"].read()
    damaged = json.loads(archived)["object"]
    s3.put_object(Bucket=bucket_name, Key=damaged, Body=b"\x1f\x8b\x08 not gzip any more")
    late = day_records(STUCK, 49)[48:]  # one late event for the pruned day
    api.jobs().store.write(late + day_records(LATER[1]))

    body = invoke(handler, "POST", "/")[1]["error"]["details"]
    assert {d["day"]: d["outcome"] for d in body["days"]} == {str(STUCK): "quarantined", str(LATER[1]): "archived"}
    [held] = invoke(handler, "GET", "/status")[1]["quarantined"]
    assert "the store holds 1 of its 48 rows" in held["reason"] and held["recovery"]["action"] == "rebuild"
    assert "_set_aside/" in held["recovery"]["effect"]

    status, recovered = invoke(handler, "POST", "/recover", {"day": str(STUCK), "action": "rebuild"})
    assert status == 200 and recovered["result"]["outcome"] == "archived" and recovered["result"]["rows"] == 1
    assert old_rows(handler) == []
    objects = keys(s3, bucket_name)
    [aside] = [k for k in objects if k.startswith(f"ha/_set_aside/{STUCK:%Y/%m/%d}/")]
    assert aside.endswith(damaged.rsplit("/", 1)[-1]) and damaged not in objects  # kept, never deleted
    assert invoke(handler, "GET", "/status")[1]["quarantined"] == []


def test_a_restore_of_a_day_with_an_unreadable_manifest_names_the_recovery(
        handler: ModuleType, s3: Any, bucket_name: str, function_env: dict[str, str]) -> None:
    assert invoke(handler, "POST", "/")[0] == 200
    s3.put_object(Bucket=bucket_name, Key=layout.manifest_key("ha/", STUCK), Body=b"[]")
    status, body = invoke(handler, "POST", "/restore", {"from": str(STUCK), "to": str(LATER[0])})
    assert status == 503 and body["error"]["code"] == "restore_failed"
    days = body["error"]["details"]["days"]
    assert [(d["day"], d["outcome"]) for d in days] == [(str(STUCK), "failed"), (str(LATER[0]), "restored")]
    assert days[0]["recovery"] == f"python -m ingestor.archive recover {STUCK} --action repair"
    events = open_event_store(function_env["EVENT_STORE_URL"])
    assert events.count(EventFilter(end=dt.datetime.now(dt.UTC) - dt.timedelta(days=365))) == 48
    events.close()

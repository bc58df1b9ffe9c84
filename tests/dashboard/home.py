"""A small home's worth of real-format Home Assistant data for the dashboard: a registry snapshot (areas,
devices, entities), a numeric sensor over the last hours, a light switched on and off, an automation chain
(context.parent_id) and a state that looks like HTML, all timed relative to now so every view's default
range holds them.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from tests.metadata.test_metadata import snapshot
from tests.support.ha_events import sample_events, state_changed

THERMOMETER = {"id": "5b1f0c3a9e7d4c21a8f6e0b2c4d6e8fa", "name": "Kitchen Thermometer", "manufacturer": "Acme",
               "model": "TH-20", "sw_version": "1.4.2", "area_id": "kitchen"}
TEMPERATURE = "sensor.kitchen_temperature"
LIGHT = "input_boolean.living_room_light"
HTML_PROBE = "sensor.hallway_note"
HTML_STATE = '<img src=x onerror="window.__xss=1">'
CHAIN_ROOT = "01M81G5SXSR9VEPMR50TY4GN0R"    # the user's light switch in the recorded chain
CHAIN_CHILD = "01M81G5SXSWE0Y1B7XWHMS3C22"   # the automation it triggered
BACKFILLED_RUN = "01M8P8FHT3SWFRDAFC9J4M15DM"  # an automation run the bridge rebuilt from HA's logbook
BACKFILLED_CHANGE = "backfill-0d6c2ab5b4b1b9c4a6a7f2c1e0d9b8a7"  # a change from HA's history: context unknown
TEMPERATURES = [round(19.5 + (i % 12) * 0.25, 2) for i in range(36)]


def registry(snapshot_id: str = "dashboard-1") -> list[dict[str, Any]]:
    """The recorded snapshot plus one device with a manufacturer and its temperature entity in the kitchen."""
    parts = snapshot(snapshot_id)
    by_type = {p["type"]: p for p in parts}
    device = copy.deepcopy(by_type["devices"]["items"][0])
    device.update({**{k: v for k, v in THERMOMETER.items() if k != "id"}, "id": THERMOMETER["id"],
                   "entry_type": None, "identifiers": [["acme", "th20-0001"]]})
    by_type["devices"]["items"].append(device)
    entity = copy.deepcopy(by_type["entities"]["items"][0])
    entity.update({"entity_id": TEMPERATURE, "device_id": THERMOMETER["id"], "area_id": None,
                   "platform": "acme", "unique_id": "th20-0001-temperature", "id": "7c0ffee0d15ea5e5b01dfacec0ffee01",
                   "original_name": "Kitchen Temperature"})
    by_type["entities"]["items"].append(entity)
    return parts


def _shift(event: dict[str, Any], delta: dt.timedelta) -> dict[str, Any]:
    """The recorded event moved by `delta` (every timestamp in it), so a recorded chain happens 'now'."""
    out = copy.deepcopy(event)

    def move(value: str) -> str:
        return (dt.datetime.fromisoformat(value) + delta).isoformat(timespec="microseconds")

    out["time_fired"] = move(out["time_fired"])
    for key in ("old_state", "new_state"):
        state = (out.get("data") or {}).get(key)
        if state:
            for field in ("last_changed", "last_updated", "last_reported"):
                if state.get(field):
                    state[field] = move(state[field])
    return out


def chain(now: dt.datetime) -> list[dict[str, Any]]:
    """The recorded automation chain and template sensor, ten minutes ago."""
    events = sample_events()
    delta = now - dt.timedelta(minutes=10) - dt.datetime.fromisoformat(events[0]["time_fired"])
    return [_shift(e, delta) for e in events]


def temperatures(now: dt.datetime) -> list[dict[str, Any]]:
    """Kitchen temperature every five minutes over the last three hours."""
    events = []
    for i, value in enumerate(TEMPERATURES):
        at = now - dt.timedelta(minutes=5 * (len(TEMPERATURES) - i))
        old = TEMPERATURES[i - 1] if i else 19.0
        event = state_changed(TEMPERATURE, f"{old}", f"{value}", at, unit="°C", context_id=f"01KT{i:022d}")
        for state in (event["data"]["old_state"], event["data"]["new_state"]):
            state["attributes"].update({"friendly_name": "Kitchen Temperature", "device_class": "temperature"})
        events.append(event)
    return events


def light_switching(now: dt.datetime) -> list[dict[str, Any]]:
    """The living room light switched every twenty minutes over the last three hours."""
    events = []
    for i in range(9):
        at = now - dt.timedelta(minutes=20 * (9 - i)) - dt.timedelta(minutes=1)
        old, new = ("off", "on") if i % 2 == 0 else ("on", "off")
        event = state_changed(LIGHT, old, new, at, unit=None, context_id=f"01KL{i:022d}")
        event["data"]["old_state"]["last_changed"] = (at - dt.timedelta(minutes=20)).isoformat(timespec="microseconds")
        for state in (event["data"]["old_state"], event["data"]["new_state"]):
            state["attributes"] = {"friendly_name": "Living Room Light", "icon": "mdi:lightbulb"}
        events.append(event)
    return events


def html_probe(now: dt.datetime) -> list[dict[str, Any]]:
    """A state that is HTML: it must show as text and never become an element."""
    event = state_changed(HTML_PROBE, "ok", HTML_STATE, now - dt.timedelta(minutes=3), unit=None,
                          context_id="01KH0000000000000000000000")
    for state in (event["data"]["old_state"], event["data"]["new_state"]):
        state["attributes"] = {"friendly_name": "Hallway <b>note</b>"}
    return [event]


def backfilled(now: dt.datetime) -> list[dict[str, Any]]:
    """An automation run and the counter change it made as the bridge rebuilds them after a gap
    (gateway-bridge/README.md, Backfill): the run from HA's logbook, its context id known but not its cause;
    the change from HA's history, its context unknown."""
    at = now - dt.timedelta(minutes=30)
    run = {"event_type": "automation_triggered", "origin": "LOCAL", "time_fired": at.isoformat(),
           "data": {"name": "Count lights turned on", "entity_id": "automation.count_lights_turned_on",
                    "source": "state of input_boolean.living_room_light"},
           "context": {"id": BACKFILLED_RUN, "parent_id": None, "user_id": None},
           "backfill": {"source": "logbook", "unknown": ["parent_id"]}}
    change = state_changed("counter.light_on_events", "4", "5", at + dt.timedelta(milliseconds=5), unit=None,
                           context_id=BACKFILLED_CHANGE)
    change["backfill"] = {"source": "history", "unknown": ["id", "parent_id", "user_id"]}
    return [run, change]


def everything(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    now = now or dt.datetime.now(dt.UTC)
    return temperatures(now) + light_switching(now) + chain(now) + backfilled(now) + html_probe(now)

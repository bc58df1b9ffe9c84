"""Deterministic event ids, so a replayed, re-fetched or twice-captured event collides with the one stored.

An id hashes only what every source of the event gives exactly, so the same event captured live by two
bridge replicas, or live by one and rebuilt from HA's history or logbook by the other, gets one id:

- state_changed: the entity, the moment its state object was last updated, and the state. The context
  is left out on purpose: HA's history API returns the same state without it.
- automation_triggered, script_started: the moment it fired, its context id and the entity; HA's logbook
  gives exactly these (`when`, `context_id`, `entity_id`), not the whole data or the parent context.
- logbook_entry: the moment, the name, the message and the entity; the logbook gives no context id.
- homeassistant_start / homeassistant_stop: the type and the moment, all the logbook keeps of them.
- any other event (call_service, registry updates, …): the moment, the context id and the whole data;
  no HA API gives them back, so only live captures must collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ingestor import jsoncodec
from ingestor.timeutil import canonical

RUN_EVENTS = frozenset({"automation_triggered", "script_started"})
LIFECYCLE_EVENTS = frozenset({"homeassistant_start", "homeassistant_stop"})


def _digest(parts: list[Any]) -> str:
    # A JSON array is an unambiguous encoding of the tuple; sorted keys make nested dicts canonical.
    return hashlib.blake2b(jsoncodec.dumps(parts, sort_keys=True), digest_size=16).hexdigest()


def _time(value: object) -> str:
    return canonical(value)


def state_event_id(state: Mapping[str, Any]) -> str:
    """Id of the state_changed event that produced `state`, an HA state object.

    Works for `new_state` of a state_changed event and for a state from get_states or the
    history API (`entity_id`, `state`, `last_updated`). Raises ValueError on a bad last_updated.
    """
    return _state_change_id(state["entity_id"], state["last_updated"], state["state"])


def _state_change_id(entity_id: str, when: object, state: str | None) -> str:
    return state_change_id_at(entity_id, _time(when), state)


def state_change_id_at(entity_id: str | None, time_text: str, state: str | None) -> str:
    """The id of a state change at `time_text` (already in the stored form, format_timestamp's)."""
    return _digest(["state_changed", entity_id, time_text, state])


def other_event_id(event_type: str | None, time_text: str, context_id: str | None, data: Any) -> str:
    """The id of any other event fired at `time_text` (format_timestamp's form) in `context_id`."""
    return _digest([event_type, time_text, context_id, data])


def target_event_id(call_id: str, entity_id: str) -> str:
    """Id of the record of one entity of a service call that targets several (`call_id`: the call's event id).

    Derived from the call's id and the entity alone, so a replayed call gives each entity's record the same id
    again, and the records of one call differ from each other.
    """
    return _digest(["call_service_target", call_id, entity_id])


def event_id(event: Mapping[str, Any]) -> str:
    """32 hex characters identifying a raw HA event (the `event` object of an HA event message).

    Raises KeyError/ValueError when the fields the id is built from are missing or malformed;
    callers hash validated events.
    """
    data = event["data"]
    if event["event_type"] == "state_changed":
        new_state = data.get("new_state")
        if new_state is not None:
            return _state_change_id(data["entity_id"], new_state["last_updated"], new_state["state"])
        # Entity removed: no state to key on. null cannot collide with a real state, which is a str.
        return _state_change_id(data["entity_id"], event["time_fired"], None)
    kind = event["event_type"]
    when = _time(event["time_fired"])
    context_id = (event.get("context") or {}).get("id")
    if kind in RUN_EVENTS:
        return _digest([kind, when, context_id, data.get("entity_id")])
    if kind == "logbook_entry":
        return _digest([kind, when, data.get("name"), data.get("message"), data.get("entity_id")])
    if kind in LIFECYCLE_EVENTS:
        return _digest([kind, when])
    return other_event_id(kind, when, context_id, data)

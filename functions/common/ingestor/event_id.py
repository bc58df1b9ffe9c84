"""Deterministic event ids, so a replayed or re-fetched event collides with the one already stored.

A state change is identified by what HA itself keys it on: the entity, the moment its state
object was last updated, and the state. The context id is left out on purpose: HA's history API
(used to backfill gaps) returns the same state without it, and must map to the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ingestor import jsoncodec
from ingestor.timeutil import canonical


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
    return _digest(["state_changed", entity_id, _time(when), state])


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
    context_id = (event.get("context") or {}).get("id")
    return _digest([event["event_type"], _time(event["time_fired"]), context_id, data])

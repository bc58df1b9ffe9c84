"""The stays a store's `stay_groups` took, one by one and newest first (time, then event id): what the tests
compare with the events' own, whatever order the groups hold them in."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from ingestor.store.model import StayGroup


class Stay(NamedTuple):
    entity_id: str
    state: str
    time: dt.datetime
    duration: float
    event_id: str


def newest_first(groups: list[StayGroup]) -> list[Stay]:
    stays = [Stay(g.entity_id, g.state, g.time(k), g.durations[k], g.event_id(k))
             for g in groups for k in range(len(g.durations))]
    return sorted(stays, key=lambda s: (s.time, s.event_id), reverse=True)

"""Event records as they travel on ha.events.enriched and sports.events (docs/design.md shapes)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any


def ha_record(entity_id: str, state: str = "on", event_type: str = "state_changed", area_id: str | None = None,
              salt: str = "") -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "event_id": hashlib.sha256(f"{entity_id}{state}{event_type}{salt}{now}".encode()).hexdigest()[:32],
        "event_type": event_type, "time_fired": now, "origin": "LOCAL", "entity_id": entity_id,
        "domain": entity_id.split(".", 1)[0], "state": state, "old_state": "off", "state_value": None,
        "unit": None, "device_class": None, "friendly_name": entity_id, "attributes": {},
        "duration_in_state": 12.5, "context": {"id": "01M81G5SXSR9VEPMR50TY4GN0R", "parent_id": None,
                                               "user_id": None},
        "device_id": None, "area_id": area_id, "device_manufacturer": None, "device_model": None,
        "weather": None, "data": None,
    }


def sports_event(event_type: str = "score_changed", home: str = "SF", away: str = "DAL", league: str = "nfl",
                 salt: str = "") -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "event_id": hashlib.sha256(f"{event_type}{home}{away}{league}{salt}{now}".encode()).hexdigest()[:32],
        "event_type": event_type, "time_fired": now, "domain": "sports", "league": league, "game_id": "401547000",
        "teams": [home, away], "home": {"abbreviation": home, "name": f"{home} team", "score": 14},
        "away": {"abbreviation": away, "name": f"{away} team", "score": 7}, "status": "live", "period": 2,
        "clock": "4:12", "previous": {"home_score": 7, "away_score": 7},
    }

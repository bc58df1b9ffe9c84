"""Filter semantics: AND across HA fields, OR within one; sports and HA filters never cross."""

from __future__ import annotations

import pytest

from ingestor.webhooks import filters
from tests.webhooks.events import ha_record, sports_event


def matches(raw: dict, event: dict) -> bool:
    return filters.matcher(filters.clean(raw)).matches(event)


def test_a_star_event_type_matches_every_ha_event() -> None:
    assert matches({"event_types": ["*"]}, ha_record("light.kitchen"))
    assert matches({"event_types": ["*"]}, ha_record("script.x", event_type="call_service"))


def test_event_types_match_one_of_the_listed_types() -> None:
    assert matches({"event_types": ["call_service", "state_changed"]}, ha_record("light.kitchen"))
    assert not matches({"event_types": ["call_service"]}, ha_record("light.kitchen"))


def test_entity_globs_use_fnmatch() -> None:
    rule = {"entity_ids": ["sensor.*_temperature", "light.kitchen"]}
    assert matches(rule, ha_record("sensor.living_room_temperature"))
    assert matches(rule, ha_record("light.kitchen"))
    assert not matches(rule, ha_record("sensor.living_room_humidity"))
    assert not matches(rule, ha_record("light.kitchen_2"))


def test_every_non_empty_field_must_match() -> None:
    rule = {"domains": ["light"], "areas": ["kitchen"]}
    assert matches(rule, ha_record("light.a", area_id="kitchen"))
    assert not matches(rule, ha_record("light.a", area_id="hall"))
    assert not matches(rule, ha_record("switch.a", area_id="kitchen"))


def test_ha_filters_never_match_sports_events() -> None:
    assert not matches({"event_types": ["*"]}, sports_event())
    assert not matches({"event_types": ["score_changed"]}, sports_event())


def test_sports_filters_never_match_ha_events() -> None:
    assert not matches({"teams": ["SF"]}, ha_record("light.kitchen"))
    assert not matches({"game_events": ["game_started"]}, ha_record("light.kitchen", event_type="game_started"))


def test_teams_match_either_side_case_insensitively_and_optionally_by_league() -> None:
    assert matches({"teams": ["sf"]}, sports_event(home="SF", away="DAL"))
    assert matches({"teams": ["dal"]}, sports_event(home="SF", away="DAL"))
    assert matches({"teams": ["nfl:SF"]}, sports_event(league="nfl"))
    assert not matches({"teams": ["nhl:SF"]}, sports_event(league="nfl"))
    assert not matches({"teams": ["BOS"]}, sports_event())


def test_game_events_and_teams_both_apply() -> None:
    rule = {"teams": ["SF"], "game_events": ["game_ended"]}
    assert matches(rule, sports_event("game_ended"))
    assert not matches(rule, sports_event("score_changed"))
    assert matches({"game_events": ["score_changed"]}, sports_event("score_changed", home="BOS", away="NYR"))


@pytest.mark.parametrize(("raw", "field"), [
    ({}, "at least one filter"),
    ({"event_types": []}, "at least one filter"),
    ({"colours": ["red"]}, "filters.colours"),
    ({"event_types": "state_changed"}, "filters.event_types"),
    ({"entity_ids": ["Sensor.Bad Name"]}, "filters.entity_ids[0]"),
    ({"domains": [5]}, "filters.domains[0]"),
    ({"teams": ["san francisco"]}, "filters.teams[0]"),
    ({"game_events": ["touchdown"]}, "filters.game_events[0]"),
    ({"event_types": ["x"] * 101}, "at most 100"),
    ([], "expected an object"),
])
def test_bad_filters_are_refused_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(filters.FilterError, match=field.replace("[", r"\[").replace("]", r"\]")):
        filters.clean(raw)

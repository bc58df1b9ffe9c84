"""Home Assistant's layout, rule by rule where the side-by-side tests with the real HA (tests/store/halayout) cannot
show it: what HA itself gets wrong or refuses, and cases a drive does not reach deterministically."""

from __future__ import annotations

from typing import Any

import pytest

from ingestor.store import haconfig
from ingestor.store.haconfig import Filter
from ingestor.store.halayout import HaLayout, HaPoint, entity_filter

TIME = "2026-11-20T12:00:00.123472Z"


def record(entity_id: str = "sensor.t", state: str | None = "21.5", time_fired: str = TIME,
           event_type: str = "state_changed", **attributes: Any) -> dict[str, Any]:
    return {"event_type": event_type, "entity_id": entity_id, "state": state, "time_fired": time_fired,
            "attributes": attributes}


def layout(yaml: str = "", api: str = "1") -> HaLayout:
    return HaLayout(haconfig.load(yaml or " "), api=api)


def test_a_numeric_state_is_a_value_and_attributes_are_floats_or_str_text() -> None:
    point = layout().point(record(unit_of_measurement="°C", friendly_name="Room 12", battery="87", icon="mdi:x"))
    assert point == HaPoint("°C", {"domain": "sensor", "entity_id": "t"},
                            {"value": 21.5, "friendly_name_str": "Room 12", "friendly_name": 12.0, "battery": 87.0,
                             "icon_str": "mdi:x"}, 1795176000123472)


@pytest.mark.parametrize("state", ["unknown", "unavailable", "", None])
def test_states_ha_skips_write_no_point(state: str | None) -> None:
    assert layout().point(record(state=state)) is None


def test_only_state_changes_become_points() -> None:
    assert layout().point(record(event_type="call_service")) is None


def test_a_non_finite_state_number_leaves_out_the_value_but_keeps_the_attributes_on_api_v1_too() -> None:
    """HA's 1.x client sends value=nan, and InfluxDB refuses that point whole; HA's 2.x client leaves it out."""
    point = layout().point(record(state="nan", unit_of_measurement="W", friendly_name="N"))
    assert point is not None and point.fields == {"friendly_name_str": "N"}
    assert layout().line(HaPoint("W", {}, {}, 1)) is None


@pytest.mark.parametrize(("precision", "api", "micros"), [
    (None, "1", 1795176000123472), ("us", "1", 1795176000123472), ("ns", "1", 1795176000123472),
    ("ms", "1", 1795176000123000), ("s", "1", 1795176000000000),
    ("us", "2", 1795176000123471),  # the 2.x client divides nanoseconds by 1e3 in floating point: one low
    ("ms", "2", 1795176000123000), (None, "2", 1795176000123472)])
def test_the_time_is_cut_to_the_precision_as_the_api_s_client_cuts_it(precision: str | None, api: str,
                                                                     micros: int) -> None:
    options = f"precision: {precision}" if precision else ""
    assert layout(options, api).point(record()).micros == micros


def test_names_and_text_are_stored_as_each_client_leaves_them() -> None:
    """The 1.x client doubles backslashes InfluxDB keeps doubled and turns newlines into the two characters
    \\n (names and text); the 2.x client does so for newlines in names only."""
    point = HaPoint("a\\b", {"entity_id": "x\ny"}, {"k\\ey": "one\ntwo \\ three"}, 5)
    assert layout(api="1").line(point) == 'a\\\\b,entity_id=x\\ny k\\\\ey="one\\\\ntwo \\\\ three" 5'
    assert layout(api="2").line(point) == 'a\\b,entity_id=x\\ny k\\ey="one\ntwo \\\\ three" 5'


def test_attributes_of_python_types_json_flattens_are_written_as_ha_holds_them() -> None:
    fields = layout().point(record(
        "light.l", "on", supported_color_modes=["brightness", "hs"], hs_color=[30.5, 50.0], rgb_color=[255, 0, 0],
        effect_list=["a"])).fields
    assert fields["supported_color_modes_str"] == "[<ColorMode.BRIGHTNESS: 'brightness'>, <ColorMode.HS: 'hs'>]"
    assert (fields["hs_color_str"], fields["rgb_color_str"]) == ("(30.5, 50.0)", "(255, 0, 0)")
    assert fields["effect_list_str"] == "['a']"
    automation = layout().point(record("automation.a", "on", last_triggered="2026-11-20T11:59:58.5+00:00")).fields
    assert automation["last_triggered_str"] == "2026-11-20 11:59:58.500000+00:00"


@pytest.mark.parametrize(("include", "exclude", "admitted", "refused"), [
    (Filter(), Filter(), ["a.x"], []),
    (Filter(domains=("sensor",)), Filter(), ["sensor.a"], ["light.a"]),
    (Filter(), Filter(entity_globs=("sensor.*_power",)), ["sensor.a"], ["sensor.tv_power"]),
    # domains and globs included: an included entity beats its exclusion, an excluded entity an included glob,
    # an included glob an excluded one, an excluded glob an included domain
    (Filter(domains=("sensor",), entity_globs=("light.k*",), entities=("switch.s", "sensor.x")),
     Filter(entities=("sensor.x", "light.kitchen"), entity_globs=("sensor.*_power", "light.*")),
     ["switch.s", "sensor.x", "light.kettle", "sensor.temp"],
     ["light.kitchen", "sensor.tv_power", "light.hall", "cover.c"]),
    # only excluded domains or globs (and included entities): the included entity is let through them
    (Filter(entities=("sensor.keep_power",)), Filter(domains=("light",), entity_globs=("sensor.*_power",)),
     ["sensor.keep_power", "sensor.temp"], ["sensor.tv_power", "light.a"]),
    (Filter(entities=("sensor.a",)), Filter(entities=("sensor.b",)), ["sensor.a"], ["sensor.b", "sensor.c"]),
])
def test_include_and_exclude_follow_has_precedence(include: Filter, exclude: Filter, admitted: list[str],
                                                   refused: list[str]) -> None:
    admits = entity_filter(include, exclude)
    assert [e for e in admitted + refused if admits(e)] == admitted


def test_component_config_domain_then_globs_in_order_then_entity_replace_what_they_set() -> None:
    options = layout("""
ignore_attributes: [icon]
component_config_domain: {sensor: {override_measurement: by_domain, ignore_attributes: [a]}}
component_config_glob:
  "sensor.t*": {ignore_attributes: [b]}
  "sensor.te*": {override_measurement: ""}
component_config: {sensor.temp: {override_measurement: by_entity}}
""")
    point = options.point(record("sensor.temp", icon="i", a=1, b=2, c=3))
    assert point.measurement == "by_entity" and set(point.fields) == {"value", "a", "c"}
    other = options.point(record("sensor.tx", icon="i", a=1, b=2, c=3))
    assert other.measurement == "by_domain" and set(other.fields) == {"value", "a", "c"}
    fallen_through = options.point(record("sensor.te", a=1, b=2))
    assert fallen_through.measurement == "sensor.te" and set(fallen_through.fields) == {"value", "a"}


def test_tags_attributes_and_tags_become_tags_and_leave_the_fields() -> None:
    point = layout("tags_attributes: [room, floor, gone]\ntags: {domain: overridden, source: ha}").point(
        record(room="kitchen", floor=2, gone=None, other=1))
    assert point.tags == {"domain": "overridden", "entity_id": "t", "room": "kitchen", "floor": "2", "source": "ha"}
    assert set(point.fields) == {"value", "other"}

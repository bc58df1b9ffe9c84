"""GET /analytics/trace/{context_id}: the causality tree through context.parent_id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.queries.conftest import Served


def walk(node: dict[str, Any], level: int = 0) -> list[tuple[int, str]]:
    out = [(level, node["context_id"])]
    for child in node["children"]:
        out += walk(child, level + 1)
    return out


def events_of(api: Served, context_id: str) -> list[str]:
    return sorted(r["event_id"] for r in api.home.records if r["context"]["id"] == context_id)


@pytest.mark.parametrize("start", [0, 1, 2])
def test_both_directions_root_the_tree_at_the_trigger(api: Served, start: int) -> None:
    trigger, run, script = api.home.chain
    body = api.ok(f"/analytics/trace/{api.home.chain[start]}")
    assert walk(body["root"]) == [(0, trigger), (1, run), (2, script)]
    assert body["event_count"] == sum(len(events_of(api, c)) for c in api.home.chain)
    assert body["truncated"] is False
    node = body["root"]
    for context in api.home.chain:
        assert sorted(e["event_id"] for e in node["events"]) == events_of(api, context)
        node = node["children"][0] if node["children"] else node


def test_a_trace_s_events_carry_the_names_of_their_entity_area_and_device(api: Served) -> None:
    body = api.ok(f"/analytics/trace/{api.home.chain[0]}")
    [motion] = body["root"]["events"]
    assert (motion["entity_name"], motion["area_name"], motion["device_name"]) == (
        "Bedroom Motion", "Bedroom", "Bedroom Motion")


def test_down_follows_children_only(api: Served) -> None:
    trigger, run, script = api.home.chain
    body = api.ok(f"/analytics/trace/{run}", direction="down")
    assert walk(body["root"]) == [(0, run), (1, script)]
    assert body["root"]["parent_id"] == trigger


def test_up_walks_to_the_topmost_ancestor(api: Served) -> None:
    trigger, run, script = api.home.chain
    body = api.ok(f"/analytics/trace/{script}", direction="up")
    assert walk(body["root"]) == [(0, trigger), (1, run), (2, script)]
    assert body["levels_up"] == 2


def test_depth_limits_each_direction(api: Served) -> None:
    trigger, run, script = api.home.chain
    assert walk(api.ok(f"/analytics/trace/{script}", depth=1, direction="up")["root"]) == [(0, run), (1, script)]
    assert walk(api.ok(f"/analytics/trace/{trigger}", depth=1)["root"]) == [(0, trigger), (1, run)]


def test_a_parent_loop_ends(api: Served) -> None:
    a, b = api.home.loop
    body = api.ok(f"/analytics/trace/{a}", depth=50)
    assert sorted(c for _, c in walk(body["root"])) == sorted([a, b])
    assert body["event_count"] == 2


def test_an_unknown_context_is_a_404(api: Served) -> None:
    for context in ("01ZZZZZZZZZZZZZZZZZZZZZZZZ", "nope' OR '1'='1", "x"):
        reply = api.get(f"/analytics/trace/{context}")
        assert reply.status == 404, (context, reply.body)


@pytest.mark.parametrize(("query", "named"), [({"depth": "0"}, "depth"), ({"depth": "51"}, "depth"),
                                              ({"direction": "sideways"}, "direction")])
def test_bad_trace_parameters_are_400s(api: Served, query: dict[str, str], named: str) -> None:
    reply = api.get(f"/analytics/trace/{api.home.chain[0]}", **query)
    assert reply.status == 400 and reply.json()["error"]["message"].startswith(f"{named}:")

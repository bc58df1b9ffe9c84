"""The cold tier's block: what goes in comes out exactly, whatever in it cannot be worked out from the rest."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ingestor.event_id import other_event_id, state_change_id_at
from ingestor.store import blocks
from ingestor.store.rows import Row, cut_ages, put_ages, stamp

T0 = 1_795_000_000_000_000  # µs, 2026-11-18
ULID = "01JDXRG7Q3M4N5P6Q7R8S9T0VW"
DATA = {7: {"domain": "light", "service": "turn_on", "service_data": {"entity_id": "light.kitchen"}}}


def state_row(ts: int, state: str | None, old: str | None, duration: float | None, **changes: Any) -> Row:
    """A state change as normalize makes it: id from (entity, time, state), context made at its time."""
    ctx = blocks.ulid_text((ts // 1000).to_bytes(6, "big") + random.Random(ts).randbytes(10))
    row = Row(bytes.fromhex(state_change_id_at("light.kitchen", stamp(ts), state)), ts, state, old,
              {"on": 1.0, "off": 0.0}.get(state or "") if state is None or not state[0].isdigit()
              else float(state), duration, 3, ctx, None, None, 0, None, 0)
    return row._replace(**changes)


def roundtrip(rows: list[Row], event_type: str = "state_changed", entity: str = "light.kitchen") -> blocks.Block:
    times, payload = blocks.encode(rows, event_type, entity, DATA.__getitem__)
    block = blocks.Block(times, rows[0].ts, payload, event_type, entity, DATA.__getitem__)
    assert block.rows() == rows
    return block


def light(n: int) -> list[Row]:
    rows, state, changed = [], "off", T0 - 600_000_000
    for i in range(n):
        ts = T0 + i * 61_234_567
        new = "on" if state == "off" else "off"
        rows.append(state_row(ts, new, state, (ts - changed) / 1_000_000))
        state, changed = new, ts
    return rows


def test_a_day_of_ordinary_state_changes_needs_no_exception_but_its_first_event() -> None:
    block = roundtrip(light(200))
    assert set(block._meta["x"]) == {"o", "d"}  # the first event's old state and duration come from before the block
    assert (len(block._meta["x"]["o"]), len(block._meta["x"]["d"])) == (1, 1)


def test_whatever_cannot_be_worked_out_is_kept_as_it_was() -> None:
    rows = light(6)
    rows[1] = rows[1]._replace(eid=bytes(range(16)))  # an id normalize did not make
    rows[2] = rows[2]._replace(old_state="unavailable", duration=None)  # a gap before it
    rows[3] = rows[3]._replace(value=7.0)  # a value a later stage set
    rows[4] = rows[4]._replace(ctx="not-a-ulid", parent="8e2c1d0f9b7a4e3c8d2b1a0f9e8d7c6b", user="u" * 32)
    rows[5] = rows[5]._replace(ctx=None, duration=0.1)
    roundtrip(rows)


@pytest.mark.parametrize("state", ["21.5", "-3", "0", "1520.125", "0.05", "-0", "-0.0", "007", "1e3", " 4", "4 ",
                                   "+1", "1.", ".5", "12345678901234567890", "unavailable", "", "ünïcødé", None])
def test_every_state_comes_back_as_written(state: str | None) -> None:
    rows = light(3)
    rows[1] = rows[1]._replace(state=state, eid=bytes.fromhex(state_change_id_at("light.kitchen", stamp(rows[1].ts),
                                                                                 state)), value=None)
    roundtrip(rows)


def test_plain_decimals_are_integers_and_scales_others_the_blocks_own_list() -> None:
    assert blocks.decimal_parts("21.50") == (2150, 2)
    assert blocks.decimal_parts("-0.05") == (-5, 2)
    for text in ("-0", "007", "1e3", " 4", "+1", "1.", ".5", "nan", "12345678901234567890"):
        assert blocks.decimal_parts(text) is None, text
    for mantissa, scale in ((2150, 2), (-5, 2), (0, 0), (7, 3), (-123456, 1)):
        assert blocks.decimal_parts(blocks.decimal_text(mantissa, scale)) == (mantissa, scale)


def test_other_events_keep_their_context_parent_data_and_derived_id() -> None:
    rows = []
    for i in range(5):
        ts = T0 + i * 5_000_000
        ctx = blocks.ulid_text(((ts - 2000_000) // 1000).to_bytes(6, "big") + bytes([i]) * 10)
        eid = bytes.fromhex(other_event_id("call_service", stamp(ts), ctx, DATA[7]))
        rows.append(Row(eid, ts, None, None, None, None, 0, ctx, ULID, "ab" * 16, 0, None, 7))
    block = roundtrip(rows, "call_service", None)
    assert "e" not in block._meta["x"] and "c" not in block._meta["x"]


def test_the_time_column_reads_alone() -> None:
    rows = light(50)
    times, payload = blocks.encode(rows, "state_changed", "light.kitchen", DATA.__getitem__)
    assert blocks.decode_times(times, rows[0].ts) == [r.ts for r in rows]
    lonely = blocks.Block(times, rows[0].ts, None, "state_changed", "light.kitchen", DATA.__getitem__)
    assert lonely.ts == [r.ts for r in rows]
    with pytest.raises(ValueError, match="without its payload"):
        _ = lonely.states


def test_ulids_round_trip_and_anything_else_is_no_ulid() -> None:
    assert blocks.ulid_text(blocks.ulid_bytes(ULID)) == ULID  # type: ignore[arg-type]
    for other in ("01jdxrg7q3m4n5p6q7r8s9t0vw", "81JDXRG7Q3M4N5P6Q7R8S9T0VW", "01JDXRG7Q3M4N5P6Q7R8S9T0V",
                  "01JDXRG7Q3M4N5P6Q7R8S9T0VI", "8e2c1d0f9b7a4e3c8d2b1a0f9e8d7c6b", "", None):
        assert blocks.ulid_bytes(other) is None, other


def test_ages_are_cut_out_of_a_document_and_put_back_byte_for_byte() -> None:
    body = (b'[{"temperature":3.5,"fetched_at":"2026-11-20T11:45:07Z","age_s":712.4,"stale":false},'
            b'{"air_quality":{"aqi":31,"age_s":1e-05,"note":"\\"age_s\\":9"},"age_s":-3}]')
    template, ages = cut_ages(body)
    assert ages == "712.4,1e-05,-3" and b"712.4" not in template and b'\\"age_s\\":9' in template
    assert put_ages(template, ages) == body
    assert cut_ages(b'{"age_s":"text","x":{"age_s":null}}') == (b'{"age_s":"text","x":{"age_s":null}}', None)


def _mixed(n: int) -> list[Row]:
    """Decimals, named states and no state in one block, with a value a later stage set."""
    pick = random.Random(5)
    rows = []
    for i in range(n):
        ts = T0 + i * 7_000_000
        state = pick.choice(["21.5", "-3", "1520.125", "unavailable", "on", None, "0.05"])
        rows.append(state_row(ts, state, None, None, eid=bytes.fromhex(state_change_id_at(
            "light.kitchen", stamp(ts), state)), value=blocks.coerce_state_value(state)))
    rows[7] = rows[7]._replace(value=99.0)
    return rows


def test_a_window_of_a_block_decodes_the_states_and_values_the_whole_block_has() -> None:
    rows = _mixed(120)
    times, payload = blocks.encode(rows, "state_changed", "light.kitchen", DATA.__getitem__)
    for lo, hi in ((0, 120), (0, 1), (5, 9), (7, 8), (60, 120), (119, 120), (30, 30)):
        window = blocks.Block(times, rows[0].ts, payload, "state_changed", "light.kitchen", DATA.__getitem__)
        assert window.states_between(lo, hi) == [r.state for r in rows[lo:hi]]
        assert window.values_between(lo, hi) == [r.value for r in rows[lo:hi]]
        assert "states" not in window.__dict__  # decoded the window only


def test_a_block_of_decimals_names_no_state_but_what_its_first_event_left() -> None:
    rows, old = [], "unavailable"
    for i in range(10):
        ts, state = T0 + i * 1_000_000, f"{i}.5"
        rows.append(state_row(ts, state, old, None,
                              eid=bytes.fromhex(state_change_id_at("light.kitchen", stamp(ts), state))))
        old = state
    assert roundtrip(rows).named_states() == ["unavailable"]  # left before the block began
    assert set(roundtrip(light(10)).named_states()) == {"on", "off"}


def test_a_state_changes_id_is_worked_out_without_decoding_the_contexts() -> None:
    rows = light(50)
    times, payload = blocks.encode(rows, "state_changed", "light.kitchen", DATA.__getitem__)
    block = blocks.Block(times, rows[0].ts, payload, "state_changed", "light.kitchen", DATA.__getitem__)
    assert [block.eid(i) for i in range(block.n)] == [r.eid for r in rows]
    assert "contexts" not in block.__dict__  # the costliest column of a block: 10 random bytes an event


def test_a_read_of_durations_makes_only_the_exceptions_it_uses() -> None:
    rows = [r._replace(eid=bytes(16 - len(str(i))) + str(i).encode()) for i, r in enumerate(light(50))]
    times, payload = blocks.encode(rows, "state_changed", "light.kitchen", DATA.__getitem__)
    block = blocks.Block(times, rows[0].ts, payload, "state_changed", "light.kitchen", DATA.__getitem__)
    assert block.durations == [r.duration for r in rows]
    assert "e" not in block._x and len(block._meta["x"]["e"]) == 50  # ids no hash gives: stored whole
    assert [block.eid(i) for i in range(block.n)] == [r.eid for r in rows]

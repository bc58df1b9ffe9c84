"""The cron signer's gate: one signature per function per tick of its schedule, within the grace after the tick."""

from __future__ import annotations

import datetime as dt

from ha_connector.cronsigner import Gate

DAY = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def at(hour: int, minute: int, second: float = 0) -> dt.datetime:
    return DAY + dt.timedelta(hours=hour, minutes=minute, seconds=second)


def test_a_call_in_the_minute_of_a_tick_is_admitted_once() -> None:
    gate = Gate(grace_s=30)
    assert gate.admit("sports-poll", "* * * * *", at(12, 0, 0)) is None
    assert "already signed" in (gate.admit("sports-poll", "* * * * *", at(12, 0, 20)) or "")
    assert gate.admit("sports-poll", "* * * * *", at(12, 1, 1)) is None  # the next tick


def test_a_call_later_than_the_grace_after_its_tick_is_not_due() -> None:
    gate = Gate(grace_s=30)
    assert "not due" in (gate.admit("sports-poll", "* * * * *", at(12, 0, 31)) or "")
    assert "not due" in (gate.admit("retention-archive", "17 3 * * *", at(12, 0, 0)) or "")
    assert gate.admit("retention-archive", "17 3 * * *", at(3, 17, 29)) is None


def test_each_function_has_its_own_ticks() -> None:
    gate = Gate(grace_s=30)
    assert gate.admit("context-poll", "* * * * *", at(12, 0, 1)) is None
    assert gate.admit("sports-poll", "* * * * *", at(12, 0, 1)) is None


def test_a_refused_call_does_not_use_up_the_tick() -> None:
    gate = Gate(grace_s=30)
    assert gate.admit("sports-poll", "* * * * *", at(11, 59, 45)) is not None
    assert gate.admit("sports-poll", "* * * * *", at(12, 0, 2)) is None

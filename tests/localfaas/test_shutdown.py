"""The runtime stops its parts in order; one that hangs or fails neither stops the rest nor the runtime's exit."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from localfaas.shutdown import stop_parts


def test_every_part_is_stopped_in_order_though_one_hangs_and_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    stopped: list[str] = []

    async def hangs() -> None:
        stopped.append("hangs")
        await asyncio.Event().wait()

    async def fails() -> None:
        stopped.append("fails")
        raise RuntimeError("its NATS is gone")

    async def stops() -> None:
        stopped.append("stops")

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="localfaas.shutdown"):
        asyncio.run(stop_parts([("first", hangs), ("absent", None), ("second", fails), ("third", stops)], bound=0.3))
    assert stopped == ["hangs", "fails", "stops"]
    assert time.monotonic() - started < 10  # bounded: the hanging part alone would never return
    said = [(r.getMessage(), getattr(r, "part", None)) for r in caplog.records if r.name == "localfaas.shutdown"]
    assert said == [("did not stop in time; going on", "first"), ("could not stop cleanly", "second")]

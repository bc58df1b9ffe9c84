"""The runtime stops its parts in order; one that hangs or fails neither stops the rest nor the runtime's exit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from localfaas.shutdown import stop_parts


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture()
def said() -> Iterator[Kept]:
    """The shutdown's own log records, caught on its logger: whatever the rest of the suite did to logging
    (a library's dictConfig disables the loggers that exist then, and test modules' loggers exist from collection)."""
    logger, kept = logging.getLogger("localfaas.shutdown"), Kept()
    disabled, level = logger.disabled, logger.level
    logger.disabled = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(kept)
    try:
        yield kept
    finally:
        logger.removeHandler(kept)
        logger.disabled, logger.level = disabled, level


def test_every_part_is_stopped_in_order_though_one_hangs_and_one_fails(said: Kept) -> None:
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
    parts = [("first", hangs), ("absent", None), ("second", fails), ("third", stops)]
    asyncio.run(stop_parts(parts, bound=0.3))
    assert stopped == ["hangs", "fails", "stops"]
    assert time.monotonic() - started < 10  # bounded: the hanging part alone would never return
    assert [(r.getMessage(), getattr(r, "part", None)) for r in said.records] == [
        ("did not stop in time; going on", "first"), ("could not stop cleanly", "second")]

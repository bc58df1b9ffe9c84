"""Stops the runtime's parts in order, each within a bound, so one part that hangs neither keeps the others
running nor leaves the runtime unable to exit; a slow or stuck part is named in the log once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)
SLOW_STOP_S = 3.0
STOP_BOUND_S = 25.0  # above the longest grace a part gives its processes (the bridge's 20 s)

Part = tuple[str, Callable[[], Awaitable[Any]] | None]


async def stop_parts(parts: list[Part], bound: float = STOP_BOUND_S) -> None:
    for name, stop in parts:
        if stop is None:
            continue
        started = time.monotonic()
        try:
            async with asyncio.timeout(bound):
                await stop()
        except TimeoutError:
            log.warning("did not stop in time; going on", extra={"part": name, "seconds": bound})
            continue
        except Exception as exc:  # one part failing to stop (its NATS gone) must not leave the others running
            log.warning("could not stop cleanly", extra={"part": name, "error": f"{type(exc).__name__}: {exc}"})
        if time.monotonic() - started > SLOW_STOP_S:
            log.warning("slow to stop", extra={"part": name, "seconds": round(time.monotonic() - started, 1)})

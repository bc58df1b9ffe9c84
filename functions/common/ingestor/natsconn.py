"""Connection callbacks for nats-py clients: a lost connection is logged once, and its return once.

Without an error callback nats-py logs every failed reconnect (twice a second) at ERROR with a full
traceback; with these, an outage of NATS is two lines per client whatever its length.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats import errors

from ingestor.outage import Outage

CONNECTION_ERRORS = (OSError, TimeoutError, errors.UnexpectedEOF, errors.StaleConnectionError,
                     errors.ConnectionClosedError, errors.NoServersError, errors.TimeoutError)
OTHER_ERRORS_EVERY_S = 60.0


def callbacks(logger: logging.Logger, client: str) -> dict[str, Callable[..., Awaitable[None]]]:
    """error_cb and reconnected_cb for nats.connect(); other errors at most once a minute."""
    outage = Outage(logger, "NATS connection lost; reconnecting", "NATS connection restored", client=client)
    last_other = [float("-inf")]

    async def error_cb(exc: Exception) -> None:
        if isinstance(exc, CONNECTION_ERRORS):
            outage.failed(f"{type(exc).__name__}: {exc}")
        elif time.monotonic() - last_other[0] >= OTHER_ERRORS_EVERY_S:
            last_other[0] = time.monotonic()
            logger.warning("NATS client error", extra={"client": client, "error": f"{type(exc).__name__}: {exc}"})

    async def reconnected_cb() -> None:
        outage.recovered()

    return {"error_cb": error_cb, "reconnected_cb": reconnected_cb}


def options(logger: logging.Logger, client: str) -> dict[str, Any]:
    """What every long-lived client of the project connects with: reconnect for ever, quietly."""
    return {"name": client, "max_reconnect_attempts": -1, "reconnect_time_wait": 0.5, **callbacks(logger, client)}

"""Messages in flight when a consumer stops go back to JetStream at once (nak), not after ack_wait.

A stopping runtime cancels its consumers' tasks; a message whose invocation was cancelled is neither
acknowledged nor refused, so JetStream would hold it until its acknowledgement timeout (a minute or
more) before another start could have it. Returning it makes the next start take it immediately.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from nats.aio.msg import Msg

log = logging.getLogger(__name__)
NAK_TIMEOUT_S = 2.0
REDELIVER_AFTER_S = 2.0
"""Longer than a fetch waits (1 s): a pull request of this consumer still open on the server would take an
immediately redelivered message and leave it unsettled again until ack_wait."""


@contextlib.asynccontextmanager
async def returned_if_cancelled(*msgs: Msg) -> AsyncIterator[None]:
    """Every message of the call (one, or those of a coalesced call) returned if it is cancelled."""
    try:
        yield
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.gather(*(m.nak(delay=REDELIVER_AFTER_S) for m in msgs))),
                                   NAK_TIMEOUT_S)
        except Exception as exc:  # NATS gone too: JetStream redelivers after ack_wait, nothing is lost
            log.debug("could not return a message in flight", extra={"error": repr(exc)})
        raise

"""Supervision of the runtime's nats-server: restarted with backoff when it dies, its outage logged once.

Every stage, the connectors and the bridge hang off this one process; if nothing restarted it, the
whole stack would sit idle behind a 200 from /healthz. Its JetStream directory survives the restart,
so the streams and consumers come back as they were; `on_restart` re-ensures them anyway (a wiped
directory). Between attempts the delay doubles from 0.5 s to 30 s; the outage is one line when it
starts (with the exit code) and one when nats-server answers again (with how long it was down).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ingestor import metrics
from ingestor.outage import Outage
from localfaas.natsserver import NatsServer

log = logging.getLogger("nats-supervisor")
_restarts = metrics.counter("nats_server_restarts_total", "nats-server processes restarted after exiting")
_up = metrics.gauge("nats_server_up", "1 while the runtime's nats-server runs and answers")

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
POLL_S = 0.2


class NatsWatch:
    def __init__(self, server: NatsServer, on_restart: Callable[[], Awaitable[None]] | None = None) -> None:
        self.server = server
        self.on_restart = on_restart
        self.restarts = 0
        self.outage = Outage(log, "nats-server is down; restarting it with backoff", "nats-server is back",
                             level=logging.ERROR, url=server.url)
        self._task: asyncio.Task[None] | None = None
        _up.set(1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {"url": self.server.url, "restarts": self.restarts, **self.outage.status()}

    async def _watch(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            await asyncio.sleep(POLL_S)
            proc = self.server.proc
            if proc is not None and proc.poll() is None:
                continue
            _up.set(0)
            self.outage.failed(f"exited with code {proc.returncode if proc else None}")
            while True:
                try:
                    await asyncio.to_thread(self.server.start)
                    break
                except RuntimeError as exc:  # it exited again or did not answer: wait longer each time
                    self.outage.failed(str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
            self.restarts += 1
            _restarts.inc()
            _up.set(1)
            backoff = BACKOFF_MIN_S
            if self.on_restart is not None:
                try:
                    await self.on_restart()
                except Exception as exc:  # the streams are retried by every client that publishes
                    log.warning("could not re-ensure the streams after the restart", extra={"error": repr(exc)})
            self.outage.recovered()

"""The cron connector: invokes functions annotated `topic: cron-function` on their `schedule`.

Standard 5-field cron, minute granularity, evaluated in UTC like OpenFaaS's cron-connector, but every
call is signed with the connector-key, as the functions that change data require (ingestor.signedcalls).
A failed invocation is logged and counted; the next scheduled run is its retry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import aiohttp
from croniter import croniter

from ha_connector import catalog
from ha_connector.catalog import timeout_of
from ha_connector.invoke import Outcome, invoke
from ingestor import metrics

log = logging.getLogger(__name__)
_runs = metrics.counter("cron_invocations_total", "Scheduled invocations by outcome", ["function", "outcome"])


def next_run(schedule: str, after: dt.datetime) -> dt.datetime:
    return croniter(schedule, after).get_next(dt.datetime)


class CronConnector:
    def __init__(self, gateway: str, refresh_s: float = 30, auth: dict[str, str] | None = None,
                 key: str | None = None) -> None:
        self.gateway = gateway.rstrip("/")
        self.refresh_s = refresh_s
        self.auth = auth  # a real OpenFaaS gateway's basic auth (the local gateway has none)
        self.key = key  # the connector-key every invocation is signed with (ingestor.signedcalls)
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        async with aiohttp.ClientSession(headers=self.auth) as session:
            schedules: dict[str, tuple[str, float]] = {}
            due: dict[str, dt.datetime] = {}
            refreshed = 0.0
            loop = asyncio.get_running_loop()
            while True:
                now = dt.datetime.now(dt.UTC)
                if loop.time() - refreshed > self.refresh_s:
                    schedules = await self._schedules(session) or schedules
                    refreshed = loop.time()
                    due = {n: due.get(n) or next_run(s, now) for n, (s, _) in schedules.items()}
                for name, when in due.items():
                    if when <= now:
                        task = asyncio.create_task(self._fire(session, name, schedules[name][1]))
                        self._running.add(task)
                        task.add_done_callback(self._running.discard)
                        due[name] = next_run(schedules[name][0], now)
                await asyncio.sleep(min(1.0, max(0.05, min(((w - now).total_seconds() for w in due.values()),
                                                           default=1.0))))

    async def _schedules(self, session: aiohttp.ClientSession) -> dict[str, tuple[str, float]] | None:
        try:
            functions = await catalog.functions(session, self.gateway)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("gateway unreachable; keeping schedules", extra={"error": str(exc)})
            return None
        found = {}
        for fn in functions:
            if fn.schedule is None:
                continue
            if not croniter.is_valid(fn.schedule) or len(fn.schedule.split()) != 5:
                log.error("invalid schedule; skipped", extra={"function": fn.name, "schedule": fn.schedule})
                _runs.labels(fn.name, "invalid_schedule").inc()
                continue
            found[fn.name] = (fn.schedule, timeout_of(fn.annotations))
        return found

    async def _fire(self, session: aiohttp.ClientSession, name: str, timeout: float) -> None:
        result = await invoke(session, self.gateway, name, b"", timeout=timeout + 5,
                              headers={"X-Trigger": "cron"}, key=self.key)
        _runs.labels(name, result.outcome.value).inc()
        if result.outcome is not Outcome.OK:
            log.error("scheduled invocation failed", extra={"function": name, "reason": result.reason[:500]})

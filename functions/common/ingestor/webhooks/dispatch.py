"""Match events to webhooks, record a delivery for each pair, send, retry, and pause what keeps failing.

Durability: every delivery is a row before it is sent. A batch's first attempts are made within the
invocation (bounded by `inline_budget_s`), then the batch is acknowledged; what must be retried stays
in the table with `next_attempt_at`, and the sweeper (a thread of every webhook-dispatch process)
sends it when due. A restart loses nothing: the rows are there, and a lease held by a dead process
runs out. A redelivered batch finds its delivery ids taken and sends nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ingestor import jsoncodec, metrics
from ingestor.store.model import StoreError
from ingestor.webhooks import delivery, filters
from ingestor.webhooks.settings import Settings
from ingestor.webhooks.store import PENDING, SKIPPED, Delivery, Result, Webhook, WebhookStore, now_iso

log = logging.getLogger(__name__)

_events = metrics.counter("webhook_events_total", "Events seen by webhook-dispatch, by kind", ["kind"])
_deliveries = metrics.counter("webhook_deliveries_total", "Deliveries by final outcome (and retries scheduled)",
                              ["outcome"])
_attempts = metrics.counter("webhook_attempts_total", "Delivery attempts by result", ["result"])
_latency = metrics.histogram("webhook_attempt_seconds", "Latency of delivery attempts",
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
_paused = metrics.gauge("webhooks_paused", "Webhooks paused after repeated failures")
_paused_now = metrics.counter("webhook_pauses_total", "Webhooks paused after repeated failures")


def delivery_id(webhook_id: str, event_id: str) -> str:
    """Deterministic: the same event for the same webhook is the same delivery (and X-Webhook-Id)."""
    return "dlv_" + hashlib.sha256(f"{webhook_id}:{event_id}".encode()).hexdigest()[:40]


def event_id_of(event: dict[str, Any], raw: bytes) -> str:
    found = event.get("event_id")
    if isinstance(found, str) and 0 < len(found) <= 128:
        return found
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:48]


@dataclass
class Summary:
    events: int = 0
    matched: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped_paused: int = 0
    deferred: int = 0
    duplicates: int = 0
    paused: list[str] = field(default_factory=list)

    def add(self, results: list[Result]) -> None:
        for r in results:
            setattr(self, r.outcome, getattr(self, r.outcome) + 1)


class Dispatcher:
    def __init__(self, store: WebhookStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.session = delivery.new_session(settings.workers)
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="webhook-send")
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    # a batch from the topic connector

    def dispatch(self, events: list[Any]) -> Summary:
        summary = Summary(events=len(events))
        hooks = {h.id: h for h in self.store.all_enabled()}
        matchers = {h.id: filters.matcher(h.filters) for h in hooks.values()}
        rows: list[dict[str, Any]] = []
        for event in events:
            if not isinstance(event, dict):
                _events.labels("ignored").inc()
                continue
            _events.labels("sports" if filters.is_sports(event) else "ha").inc()
            payload = jsoncodec.dumps(event)
            eid = event_id_of(event, payload)
            etype = event.get("event_type") if isinstance(event.get("event_type"), str) else None
            for hook_id, matcher in matchers.items():
                if matcher.matches(event):
                    rows.append({"delivery_id": delivery_id(hook_id, eid), "webhook_id": hook_id, "event_id": eid,
                                 "event_type": (etype or "")[:128] or None, "payload": payload.decode(),
                                 "state": SKIPPED if hooks[hook_id].paused else PENDING})
        summary.matched = len(rows)
        if not rows:
            return summary
        claimed, skipped = self.store.record(rows, self.settings.lease_s)
        summary.skipped_paused = len(skipped)
        summary.duplicates = len(rows) - len(claimed) - len(skipped)
        _deliveries.labels("skipped_paused").inc(len(skipped))
        self._send_all(claimed, hooks, summary, deadline=time.monotonic() + self.settings.inline_budget_s)
        return summary

    # the sweeper: due retries, and work an invocation left

    def sweep(self, limit: int = 500) -> Summary:
        """Send what is due now; `events` of the summary is how many deliveries were claimed."""
        claimed = self.store.claim_due(limit, self.settings.lease_s)
        summary = Summary(events=len(claimed))
        if claimed:
            hooks = {h.id: h for h in self.store.all_enabled()}
            self._send_all(claimed, hooks, summary, deadline=time.monotonic() + self.settings.lease_s / 2)
        return summary

    def start_sweeper(self) -> None:
        if self.settings.sweep_s <= 0 or (self._sweeper and self._sweeper.is_alive()):
            return
        self._sweeper = threading.Thread(target=self._sweep_loop, name="webhook-sweeper", daemon=True)
        self._sweeper.start()

    def sweeper_alive(self) -> bool:
        return bool(self._sweeper and self._sweeper.is_alive())

    def stop(self) -> None:
        self._stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.session.close()

    def _sweep_loop(self) -> None:
        last_housekeeping = 0.0
        failures = 0
        while not self._stop.is_set():
            failures += 1  # reset below when the round succeeds; a failing DB is retried less and less often
            try:
                while self.sweep().events:  # drain a backlog without waiting between rounds
                    pass
                _paused.set(self.store.paused_count())  # resumes happen in the admin API's process
                if time.monotonic() - last_housekeeping > 60:
                    last_housekeeping = time.monotonic()
                    self.store.prune(self.settings.log_keep, self.settings.log_days, dedup_days=8)
                failures = 0
            except StoreError as exc:
                log.warning("sweep failed; trying again", extra={"error": str(exc), "failures": failures})
            except Exception:
                log.exception("sweep failed; trying again", extra={"failures": failures})
            self._stop.wait(min(self.settings.sweep_s * 2 ** failures, 30.0) if failures else self.settings.sweep_s)

    # sending

    def _send_all(self, claimed: list[Delivery], hooks: dict[str, Webhook], summary: Summary,
                  deadline: float) -> None:
        if not claimed:
            return
        futures = [self.pool.submit(self._attempt, d, hooks.get(d.webhook_id), deadline) for d in claimed]
        results: list[Result] = []
        deferred: list[Delivery] = []
        for d, future in zip(claimed, futures, strict=True):
            result = future.result()
            if result is None:
                deferred.append(d)
            else:
                results.append(result)
        paused = self.store.finish(results, self.settings.pause_after)
        self.store.release(deferred)
        summary.add(results)
        summary.deferred += len(deferred)
        summary.paused += paused
        for r in results:
            _deliveries.labels(r.outcome).inc()
        if paused:
            _paused_now.inc(len(paused))
            _paused.set(self.store.paused_count())
            for webhook_id in paused:
                log.warning("webhook paused after repeated failures", extra={"webhook_id": webhook_id})

    def _attempt(self, d: Delivery, hook: Webhook | None, deadline: float) -> Result | None:
        if hook is None:  # deleted or disabled meanwhile
            return Result(d, "failed", None, None, "webhook deleted or disabled", None, now_iso())
        if time.monotonic() > deadline:
            return None
        body = delivery.body_of(hook.id, d.delivery_id, d.payload)
        attempt = delivery.send(self.session, self.settings, hook.url, hook.secret, d.delivery_id, d.event_type, body)
        _attempts.labels(attempt.kind).inc()
        _latency.observe(attempt.latency_ms / 1000)
        made = d.attempts + 1
        if attempt.ok:
            return Result(d, "delivered", attempt.status_code, attempt.latency_ms, None, None, now_iso())
        if attempt.retryable and made < self.settings.max_attempts:
            wait = delivery.backoff(self.settings, made, attempt.retry_after_s)
            return Result(d, "retrying", attempt.status_code, attempt.latency_ms, attempt.error, now_iso(wait),
                          now_iso())
        error = attempt.error if not attempt.retryable else f"{attempt.error}; gave up after {made} attempts"
        return Result(d, "failed", attempt.status_code, attempt.latency_ms, error, None, now_iso())


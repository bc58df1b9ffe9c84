"""Match events to webhooks, record a delivery for each pair, send, retry, hold, and dead-letter.

Durability: every delivery is a row before it is sent (ingestor.webhooks.queue holds the states and the
circuit). A batch's first attempts are made within the invocation (bounded by `inline_budget_s`), then
the batch is acknowledged; what must be retried or is held stays in the table, and the sweeper (a
thread of every webhook-dispatch process) sends it when due: retries, the probe of each paused
webhook, and what a resumed webhook held, in order of arrival. Each round it also skips what disabled
webhooks had queued, dead-letters held deliveries beyond the bounds, and publishes dead letters to
ha.events.dlq. A restart loses nothing: the rows are there, and a lease held by a dead process runs out.
A redelivered batch finds its delivery ids taken and sends nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestor import bus, dlq, envelope, errors, jsoncodec, metrics, subjects
from ingestor.store.model import StoreError
from ingestor.webhooks import delivery, filters
from ingestor.webhooks.queue import Delivery, DeliveryQueue, Finished, Result
from ingestor.webhooks.settings import Settings
from ingestor.webhooks.store import Webhook, WebhookStore, now_iso

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
STAGE = "webhook-dispatch"

_events = metrics.counter("webhook_events_total", "Events seen by webhook-dispatch, by kind (ha, sports, alert; "
                          "ignored: not an object; rejected: dead-lettered, e.g. nested too deep)", ["kind"])
_attempts = metrics.counter("webhook_attempts_total", "Delivery attempts by result", ["result"])
_latency = metrics.histogram("webhook_attempt_seconds", "Latency of delivery attempts",
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
_paused = metrics.gauge("webhooks_paused", "Webhooks paused after failing (their events are held)")
_pauses = metrics.counter("webhook_pauses_total", "Webhooks paused after failing")
_resumes = metrics.counter("webhook_resumes_total", "Paused webhooks resumed by a successful delivery")
_waiting = metrics.gauge("webhook_deliveries_waiting", "Deliveries not yet delivered, by state", ["state"])
_published = metrics.counter("webhook_dead_letters_published_total",
                             f"Dead-lettered deliveries written to {subjects.DLQ}")


def delivery_id(webhook_id: str, event_id: str) -> str:
    """Deterministic: the same event for the same webhook is the same delivery (and X-Webhook-Id)."""
    return "dlv_" + hashlib.sha256(f"{webhook_id}:{event_id}".encode()).hexdigest()[:40]


def event_id_of(event: dict[str, Any], raw: bytes) -> str:
    found = event.get("event_id")
    if isinstance(found, str) and 0 < len(found) <= 128:
        return found
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:48]


def source_of(event: Any) -> str:
    if isinstance(event, dict) and filters.is_alert(event):
        return subjects.ALERTS
    return subjects.SPORTS_EVENTS if isinstance(event, dict) and filters.is_sports(event) else subjects.ENRICHED


@dataclass
class Summary:
    events: int = 0
    matched: int = 0
    delivered: int = 0
    retrying: int = 0
    held: int = 0
    dead_lettered: int = 0
    deferred: int = 0
    duplicates: int = 0
    rejected: int = 0
    paused: list[str] = field(default_factory=list)

    def add(self, finished: Finished) -> None:
        for outcome in finished.outcomes:
            setattr(self, outcome, getattr(self, outcome) + 1)
        self.paused += finished.paused


class Dispatcher:
    def __init__(self, store: WebhookStore, settings: Settings, nats: bus.Bus | None = None) -> None:
        self.store = store
        self.settings = settings
        self.queue = DeliveryQueue(store, settings)
        self._nats = nats  # where dead letters go; the process's bus (NATS_URL) when None
        self._session: requests.Session | None = None  # made by the first attempt (it loads requests)
        self._session_lock = threading.Lock()
        # first attempts and the sweeper's have their own senders: retries to a receiver that hangs never
        # delay other webhooks' first attempts
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="webhook-send")
        self.sweep_pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="webhook-sweep")
        self.per_webhook = max(1, settings.workers // 4)  # a round's attempts of one webhook
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._dlq_failing = False  # dead letters could not be published: logged once until they can
        self._tidied = float("-inf")
        self._idle = False  # the last sweep found nothing queued, to publish or paused (DeliveryQueue.idle)

    @property
    def nats(self) -> bus.Bus:
        return self._nats or bus.default()

    # a batch from the topic connector

    def dispatch(self, events: list[Any], batch_id: str | None = None, source: str = subjects.ENRICHED,
                 enabled: list[Webhook] | None = None) -> Summary:
        """Record a delivery per matching (event, webhook) and make the first attempts, except to webhooks
        failing now: theirs are left to the sweeper, so a receiver that is down or hangs does not hold up
        the batch, nor the other webhooks. An event nested too deep (or that JSON cannot carry) is
        dead-lettered alone, before anything serializes it. `enabled`: the enabled webhooks as just read
        (store.all_enabled), when the caller has them; read here otherwise."""
        summary = Summary(events=len(events))
        hooks = {h.id: h for h in (self.store.all_enabled() if enabled is None else enabled)}
        matchers = {h.id: filters.matcher(h.filters) for h in hooks.values()}
        rows: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        kinds = dict.fromkeys(("ignored", "alert", "sports", "ha"), 0)
        # asked of the whole batch at once; of each event only when some event is too deep (as a stage does)
        each = jsoncodec.nested_deeper_than(events, jsoncodec.MAX_DEPTH + 1)
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                kinds["ignored"] += 1
                continue
            problem = jsoncodec.depth_problem(event, jsoncodec.MAX_DEPTH) if each else None
            if problem is None and matchers:  # with no webhook to match, nothing is serialized
                try:
                    payload = jsoncodec.dumps(event)
                except jsoncodec.EncodeError as exc:
                    problem = f"cannot be encoded as JSON: {exc}"
            if problem is not None:
                rejected.append({"index": index, "reason": f"event: {problem}", "payload": event})
                continue
            kinds["alert" if filters.is_alert(event) else "sports" if filters.is_sports(event) else "ha"] += 1
            if not matchers:
                continue
            eid = event_id_of(event, payload)
            etype = event.get("event_type") if isinstance(event.get("event_type"), str) else None
            for hook_id, matcher in matchers.items():
                if matcher.matches(event):
                    rows.append({"delivery_id": delivery_id(hook_id, eid), "webhook_id": hook_id, "event_id": eid,
                                 "event_type": (etype or "")[:128] or None, "payload": payload.decode(),
                                 "ordinal": index})
        for kind, count in kinds.items():
            if count:
                _events.labels(kind).inc(count)
        if rejected:
            self._reject(batch_id or uuid.uuid4().hex, source, rejected)
            summary.rejected = len(rejected)
        summary.matched = len(rows)
        if not rows:
            return summary
        recorded = self.queue.record(rows, later={h.id for h in hooks.values() if h.consecutive_failures})
        summary.held = recorded.held
        summary.deferred = recorded.later
        summary.duplicates = len(rows) - len(recorded.claimed) - recorded.held - recorded.later
        self._send(self.pool, recorded.claimed, {}, hooks, summary,
                   deadline=time.monotonic() + self.settings.inline_budget_s)
        return summary

    def _reject(self, batch_id: str, source: str, rejected: list[dict[str, Any]]) -> None:
        """One dead letter for the batch's refused events, as every stage writes (NATS down: Unavailable)."""
        dlq_id = subjects.stage_dlq_id(envelope.derive_id(batch_id, STAGE))
        record = dlq.record(dlq_id, STAGE, source, rejected, max_bytes=self.nats.max_payload - bus.PAYLOAD_MARGIN)
        self.nats.publish(subjects.DLQ, record, dlq_id)
        _events.labels("rejected").inc(len(rejected))
        log.warning("events dead-lettered", extra={"batch_id": batch_id, "events": len(rejected),
                                                   "reason": rejected[0]["reason"]})

    # the sweeper: due retries, probes, held deliveries in order, bounds, dead letters

    def sweep(self, limit: int = 500) -> Summary:
        """One round; `events` of the summary is how many deliveries were claimed. With nothing queued, nothing to
        publish and no webhook paused (DeliveryQueue.idle), the round's steps would find nothing: only that is
        read (a delivery recorded meanwhile is the next round's, as it would be after a full round)."""
        self._idle = self.queue.idle()
        if self._idle:
            return Summary()
        if time.monotonic() - self._tidied >= self.settings.sweep_s:  # not every round of a backlog
            self._tidied = time.monotonic()
            self._tidy()
        probes = self.queue.claim_probes()
        ordered = self.queue.claim_held()
        due = self.queue.claim_due(limit, self.per_webhook)
        summary = Summary(events=len(probes) + len(due) + sum(len(chunk) for chunk in ordered.values()))
        if summary.events:
            hooks = {h.id: h for h in self.store.all_enabled()}
            self._send(self.sweep_pool, probes + due, ordered, hooks, summary,
                       deadline=time.monotonic() + self.settings.lease_s / 2)
        self._publish_dead_letters()
        return summary

    def start_sweeper(self) -> None:
        if self.settings.sweep_s <= 0 or (self._sweeper and self._sweeper.is_alive()):
            return
        self._sweeper = threading.Thread(target=self._sweep_loop, name="webhook-sweeper", daemon=True)
        self._sweeper.start()

    @property
    def session(self) -> requests.Session:
        with self._session_lock:
            if self._session is None:
                self._session = delivery.new_session(2 * self.settings.workers)
            return self._session

    def sweeper_alive(self) -> bool:
        return bool(self._sweeper and self._sweeper.is_alive())

    def stop(self) -> None:
        self._stop.set()
        if self._sweeper:
            self._sweeper.join(self.settings.lease_s)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.sweep_pool.shutdown(wait=True, cancel_futures=True)
        if self._session is not None:
            self._session.close()

    def _sweep_loop(self) -> None:
        last_housekeeping = 0.0
        failures = 0
        while not self._stop.is_set():
            failures += 1  # reset below when the round succeeds; a failing DB is retried less and less often
            try:
                while self.sweep().events and not self._stop.is_set():  # a backlog: no wait between rounds
                    pass
                self._gauges()
                if time.monotonic() - last_housekeeping > 60:
                    last_housekeeping = time.monotonic()
                    self.store.prune(self.settings.log_keep, self.settings.log_days, dedup_days=8)
                if failures > 1:
                    log.info("sweeping again", extra={"failed_rounds": failures - 1})
                failures = 0
            except StoreError as exc:
                if failures == 1:
                    log.warning("sweep failed; trying again", extra={"error": str(exc)})
            except Exception:
                if failures == 1:
                    log.exception("sweep failed; trying again")
            self._stop.wait(min(self.settings.sweep_s * 2 ** failures, 5.0) if failures else self.settings.sweep_s)

    def _tidy(self) -> None:
        done = self.queue.tidy()
        if done["dead_lettered"] or done["skipped"]:
            log.warning("held deliveries dead-lettered or skipped", extra=done)

    def _gauges(self) -> None:
        if self._idle:  # the round just read that nothing waits and no webhook is paused
            _paused.set(0)
            _waiting.labels("pending").set(0)
            _waiting.labels("held").set(0)
            return
        backlogs = self.store.backlogs()
        _paused.set(self.store.paused_count())
        _waiting.labels("pending").set(sum(b.pending for b in backlogs.values()))
        _waiting.labels("held").set(sum(b.held for b in backlogs.values()))

    def _publish_dead_letters(self) -> None:
        rows = self.queue.unpublished()
        sent: list[str] = []
        try:
            for row in rows:
                dlq_id = f"webhook:{row.delivery_id}"
                self.nats.publish(subjects.DLQ, self._dead_letter(row), dlq_id)
                sent.append(row.delivery_id)
        except errors.Unavailable as exc:  # NATS down; the rest wait in the metadata DB
            if not self._dlq_failing:
                self._dlq_failing = True
                log.warning("dead letters cannot be published; they wait in the metadata DB",
                            extra={"error": exc.message})
        else:
            if rows and self._dlq_failing:
                self._dlq_failing = False
                log.info("dead letters published again")
        finally:
            self.queue.published(sent)
            _published.inc(len(sent))

    def _dead_letter(self, row: Any) -> bytes:
        try:
            event = jsoncodec.loads(row.payload)
        except jsoncodec.JSONDecodeError:
            event = row.payload
        entry = {"reason": row.last_error or "dead-lettered", "payload": event, "webhook_id": row.webhook_id,
                 "delivery_id": row.delivery_id, "event_id": row.event_id}
        return dlq.record(f"webhook:{row.delivery_id}", STAGE, source_of(event), [entry],
                          max_bytes=self.nats.max_payload - bus.PAYLOAD_MARGIN, kind="webhook",
                          status=row.last_status, attempts=row.attempts, webhook_id=row.webhook_id,
                          delivery_id=row.delivery_id)

    # sending

    def _send(self, pool: ThreadPoolExecutor, parallel: list[Delivery], ordered: dict[str, list[Delivery]],
              hooks: dict[str, Webhook], summary: Summary, deadline: float) -> None:
        """Attempt `parallel` deliveries concurrently and each webhook's `ordered` ones one after another,
        then write every result at once; what there was no time (or no webhook) for is given back."""
        if not parallel and not ordered:
            return
        alone = [(d, pool.submit(self._attempt, d, hooks.get(d.webhook_id), deadline)) for d in parallel]
        runs = [(chunk, pool.submit(self._in_order, chunk, hooks.get(wid), deadline))
                for wid, chunk in ordered.items()]
        results: list[Result] = []
        unsent: list[Delivery] = []
        for d, future in alone:
            result = future.result()
            (results.append(result) if result else unsent.append(d))
        for chunk, future in runs:
            got = future.result()
            results += got
            unsent += chunk[len(got):]
        finished = self.queue.finish(results)
        self.queue.release(unsent)
        summary.add(finished)
        summary.deferred += len(unsent)
        for webhook_id in finished.paused:
            _pauses.inc()
            log.warning("webhook paused after failing: its events are held, the oldest is tried every "
                        f"{self.settings.probe_s:g} s", extra={"webhook_id": webhook_id})
        for webhook_id in finished.resumed:
            _resumes.inc()
            log.info("webhook resumed: sending what it held, in order", extra={"webhook_id": webhook_id})

    def _in_order(self, chunk: list[Delivery], hook: Webhook | None, deadline: float) -> list[Result]:
        """Attempt held deliveries one after another until one fails (it stays the head) or time runs out."""
        results: list[Result] = []
        for d in chunk:
            result = self._attempt(d, hook, deadline)
            if result is None:
                break
            results.append(result)
            if not result.ok:
                break
        return results

    def _attempt(self, d: Delivery, hook: Webhook | None, deadline: float) -> Result | None:
        """One attempt; None when not made (no time left, or the webhook was disabled or deleted meanwhile)."""
        if hook is None or time.monotonic() > deadline:
            return None
        body = delivery.body_of(hook.id, d.delivery_id, d.payload)
        attempt = delivery.send(self.session, self.settings, hook.url, hook.secret, d.delivery_id, d.event_type, body)
        _attempts.labels(attempt.kind).inc()
        _latency.observe(attempt.latency_ms / 1000)
        retry_at = now_iso(delivery.backoff(self.settings, d.tries + 1, attempt.retry_after_s)) \
            if attempt.retryable else None
        return Result(d, attempt.ok, attempt.retryable, attempt.status_code, attempt.latency_ms, attempt.error,
                      retry_at, now_iso())

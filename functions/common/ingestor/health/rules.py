"""The status rules: plain data from the probes in, a judged Component out (docs/health.md explains them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor.health.model import Component, rank
from ingestor.health.settings import Settings
from ingestor.webhooks.store import Backlog, Webhook


def _reason_of(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    for key in ("reason", "last_error", "error"):
        if body.get(key):
            return str(body[key])
    return None


def scaled_to_zero(fn: dict[str, Any]) -> bool:
    """Labelled to scale to zero (com.openfaas.scale.zero) and at 0 replicas now: idle, not down. Its first
    call starts it; while it starts it has 1 replica and 0 available (`starting`)."""
    return fn.get("replicas") == 0 and _scales_to_zero(fn)


def _scales_to_zero(fn: dict[str, Any]) -> bool:
    return str((fn.get("labels") or {}).get("com.openfaas.scale.zero", "")).lower() == "true"


def starting(fn: dict[str, Any]) -> bool:
    """Labelled to scale to zero, asked for replicas and none available yet: a start from zero under way (or one
    that failed, which only its duration tells apart: see `started`)."""
    return _scales_to_zero(fn) and bool(fn.get("replicas")) and fn.get("availableReplicas") == 0


def started(fn: dict[str, Any], starting_for: float, settings: Settings) -> Component:
    """A function starting from zero: ok (not probed: the call would wait for the start) for the grace time,
    which a cold start takes under load; unhealthy once its start has taken longer than that."""
    c = Component(fn["name"], "function", details={
        "replicas": fn.get("replicas"), "available_replicas": 0, "starting_for_s": round(starting_for, 1),
        "invocation_count": fn.get("invocationCount"), "schedule": (fn.get("annotations") or {}).get("schedule")})
    if starting_for >= settings.start_grace_s:
        c.worsen("unhealthy", f"no available replica (0 of {fn.get('replicas')}): its start from zero has not "
                              f"finished in {starting_for:.0f} s")
    return c


def idle(fn: dict[str, Any]) -> Component:
    """A function scaled to zero: ok, and not called (a health check must not start every function)."""
    return Component(fn["name"], "function", details={
        "replicas": 0, "available_replicas": 0, "scaled_to_zero": True,
        "invocation_count": fn.get("invocationCount"), "schedule": (fn.get("annotations") or {}).get("schedule")})


def function(fn: dict[str, Any], status: int | None, body: Any, problem: str | None) -> Component:
    """A function: its replicas (from the gateway) and its own /_/health answer.

    No available replica, no answer, or a non-200 answer: unhealthy. A 503 whose body says
    "degraded" (the function judged itself): degraded. (One scaled to zero is `idle`, never probed.)
    """
    name = fn["name"]
    annotations = fn.get("annotations") or {}
    replicas, available = fn.get("replicas"), fn.get("availableReplicas")
    c = Component(name, "function", details={
        "replicas": replicas, "available_replicas": available, "invocation_count": fn.get("invocationCount"),
        "topics": [t.strip() for t in str(annotations.get("topic") or "").split(",") if t.strip()],
        "schedule": annotations.get("schedule"), "health": body if isinstance(body, dict) else None})
    if available == 0:
        c.worsen("unhealthy", f"no available replica (0 of {replicas})")
    if problem is not None:
        c.worsen("unhealthy", f"health check failed: {problem}")
    elif status != 200:
        said = _reason_of(body)
        if isinstance(body, dict) and body.get("status") == "degraded":
            c.worsen("degraded", f"reports itself degraded{': ' + said if said else ''}")
        else:
            state = body.get("status") if isinstance(body, dict) else None
            c.worsen("unhealthy", f"health check answered HTTP {status}"
                                  f"{' (' + str(state) + ')' if state else ''}{': ' + said if said else ''}")
    return c


def consumer_lag(c: Component, consumers: list[dict[str, Any]], settings: Settings, now: dt.datetime) -> None:
    """Degrade `c` for each consumer with a backlog over the threshold, or a backlog not being worked off."""
    for info in consumers:
        waiting = info["pending"] + info["ack_pending"]
        who = f"consumer {info['consumer']} ({info['function'] or '?'} ← {info['topic']})"
        age = info.get("backlog_age_s")
        oldest = f", the oldest {age:.0f} s old" if age is not None else ""
        if waiting > settings.lag_pending:
            c.worsen("degraded", f"{who}: {_messages(waiting)} waiting{oldest} (threshold {settings.lag_pending})")
            continue
        if waiting > 0:
            since = info["last_ack_at"] or info["created_at"]
            idle = (now - since).total_seconds() if since else None
            if idle is not None and idle > settings.lag_stall_s:
                c.worsen("degraded", f"{who}: {_messages(waiting)} waiting and no ack for {idle:.0f} s "
                                     f"(threshold {settings.lag_stall_s:g} s)")


NO_HOME_ASSISTANT = ("Home Assistant not connected: no bridge is configured, so no event is captured. Set HA_URL "
                     "(e.g. HA_URL=http://homeassistant.local:8123) and put a long-lived access token (HA: your "
                     "profile, Security) in .secrets/ha-token or HA_TOKEN, then restart `make run` (it starts the "
                     "bridge); on OpenFaaS, run gateway-bridge and set BRIDGE_URL on the health function to its "
                     "health server")
CONNECTION_HINT = "check HA_URL and the token in the ha-token secret (HA_TOKEN)"


def no_bridge() -> Component:
    """No bridge configured: nothing is captured, so the system is not ok. Degraded rather than unhealthy: every
    part of the stack works and would keep what it is given (`?strict=true`, for monitors of the stack, stays
    200), and the reason says what to set."""
    return Component("bridge", "bridge", "degraded", [NO_HOME_ASSISTANT])


def bridge(body: dict[str, Any] | None, problem: str | None, disconnected_for: float | None,
           settings: Settings) -> Component:
    """Connected and publishing: ok. Disconnected from HA: degraded while it reconnects (for the grace
    period), then unhealthy. NATS refusing its publishes (it spools): degraded. No answer: unhealthy."""
    c = Component("bridge", "bridge")
    if problem is not None or body is None:
        c.worsen("unhealthy", f"bridge not answering: {problem}")
        return c
    c.details = body
    if not body.get("connected") or not body.get("authenticated"):
        error = f": {body['last_error']}" if body.get("last_error") else ""
        if disconnected_for is not None and disconnected_for < settings.bridge_grace_s:
            c.worsen("degraded", f"reconnecting to Home Assistant ({disconnected_for:.0f} s){error}")
        else:
            c.worsen("unhealthy", f"Home Assistant not connected"
                                  f"{f' for {disconnected_for:.0f} s' if disconnected_for else ''}{error}; "
                                  f"{CONNECTION_HINT}")
    if body.get("nats_publishing") is False and body.get("queue_full"):
        c.worsen("degraded", f"the queue is full: spooling {body.get('spool_depth')} batches to disk until the "
                             "stages work off their backlog (see the nats component's consumers)")
    elif body.get("nats_publishing") is False:
        c.worsen("degraded", f"NATS is not taking its publishes (spooling {body.get('spool_depth')} batches)"
                             f"{': ' + str(body['nats_error']) if body.get('nats_error') else ''}")
    if body.get("paused"):
        c.worsen("degraded", "reading from HA paused: the spool is nearly full")
    for warning in body.get("warnings") or []:  # e.g. HA without the history or logbook integration
        c.worsen("degraded", str(warning))
    return c


def bridges(replicas: list[Component]) -> Component:
    """The bridge's replicas as one component. Every replica ok: ok. Some ok: degraded (capture goes on,
    the redundancy is gone), each other replica's reasons prefixed with its name. None ok: the best of them
    (one reconnecting is degraded), since the system is only as bad as its best capturing replica."""
    if len(replicas) == 1:
        return replicas[0]
    c = Component("bridge", "bridge")
    named = {_replica_name(r, i): r for i, r in enumerate(replicas, start=1)}
    c.details = {"replicas": {name: {"status": r.status, "reasons": r.reasons, **r.details}
                              for name, r in named.items()}}
    working = [name for name, r in named.items() if r.status == "ok"]
    best = min((r.status for r in replicas), key=rank)
    for name, r in named.items():
        if r.status == "ok":
            continue
        status = "degraded" if working else r.status if r.status == best else best
        suffix = f" (capture continues through {', '.join(working)})" if working else ""
        for reason in r.reasons:
            c.worsen(status, f"{name}: {reason}{suffix}")
    return c


def _replica_name(replica: Component, index: int) -> str:
    return str(replica.details.get("replica") or f"replica {index}")


def archive(status: dict[str, Any]) -> Component:
    """Not configured: unknown. Last run failed, a day quarantined (each named with its recovery step in the
    status' errors), a bad setting or the bucket unreadable: degraded. A running job is shown in the details."""
    last = status.get("last_run") or {}
    running = status.get("running") or {}
    c = Component("archive", "archive", details={
        "state": status.get("state"), "next_run": status.get("next_run"), "archive": status.get("archive"),
        "running": {"action": running.get("action"), "holder": running.get("holder"), "since": running.get("since"),
                    "day": (running.get("progress") or {}).get("day")} if running else None,
        "quarantined": [q.get("day") for q in status.get("quarantined") or []],
        "last_run": {k: last.get(k) for k in ("started_at", "finished_at", "ok", "error", "dry_run") if k in last}
        or None})
    errors = [str(e) for e in status.get("errors") or []]
    if any(e.startswith("archive not configured") for e in errors):
        c.status = "unknown"
        c.reasons.append("not configured (ARCHIVE_S3_ENDPOINT / ARCHIVE_S3_BUCKET empty)")
        return c
    if last and last.get("ok") is False:
        c.worsen("degraded", f"last run failed{' at ' + str(last['finished_at']) if last.get('finished_at') else ''}"
                             f": {last.get('error') or 'see the archive status'}")
    for error in errors:
        if not error.startswith("last run:"):
            c.worsen("degraded", error)
    return c


NO_LOCATION = ("not configured: no location to fetch for (set CONTEXT_LATITUDE and CONTEXT_LONGITUDE, or connect "
               "Home Assistant, whose location is used)")


def context_sources(status: dict[str, Any]) -> list[Component]:
    """One component per context source. It has fetched: ok. An open (or half-open) breaker, or a source the
    configuration asks for that cannot run: degraded. No location to fetch for, not polled yet, or nothing fetched
    yet (its breaker still closed): unknown, since "ok" would claim a value that was never fetched."""
    out = []
    for name, source in sorted(status.items()):
        if not isinstance(source, dict):
            continue
        c = Component(f"context:{name}", "context", details=source)
        last = source.get("last_poll") if isinstance(source.get("last_poll"), dict) else {}
        breaker = source.get("breaker")
        if source.get("problem"):
            c.worsen("degraded", f"not configured: {source['problem']}")
        elif breaker and breaker != "closed":
            error = f": {source['last_error']}" if source.get("last_error") else ""
            c.worsen("degraded", f"{source.get('provider') or name}: breaker {breaker} after "
                                 f"{source.get('failures')} failures{error}")
        elif last.get("result") == "no_location":
            c.status = "unknown"
            c.reasons.append(NO_LOCATION)
        elif not source.get("fetched_at"):
            c.status = "unknown"
            c.reasons.append("not polled yet (context-poll runs every minute)" if not last else
                             f"nothing fetched yet: the last attempt failed ({last['error']})"
                             if last.get("result") == "failed" else "nothing fetched yet")
        out.append(c)
    return out


def webhooks(hooks: list[Webhook], backlogs: dict[str, Backlog], settings: Settings, now: dt.datetime) -> Component:
    """Every webhook's state and backlog. Paused (its events held), a backlog older than
    HEALTH_WEBHOOK_BACKLOG_AGE_S or larger than HEALTH_WEBHOOK_BACKLOG, dead letters that could not be
    published: degraded, naming the webhook. None registered: unknown."""
    rows = []
    c = Component("webhook-deliveries", "webhook")
    for hook in hooks:
        backlog = backlogs.get(hook.id, Backlog())
        age = backlog.age_s(now)
        rows.append({"id": hook.id, "name": hook.name, "state": hook.state, "paused_since": hook.paused_at,
                     "failing_since": hook.failing_since, "consecutive_failures": hook.consecutive_failures,
                     "last_error": hook.last_error, "retry_backlog": backlog.pending, "held": backlog.held,
                     "oldest_undelivered_at": backlog.oldest_at,
                     "oldest_undelivered_age_s": None if age is None else round(age, 1),
                     "unpublished_dead_letters": backlog.unpublished_dead_letters})
        who = f"webhook {hook.name} ({hook.id})"
        waiting = backlog.pending + backlog.held
        if hook.state == "paused":
            c.worsen("degraded", f"{who} paused since {hook.paused_at}: {_deliveries(backlog.held)} held"
                                 f"{'; last error: ' + hook.last_error if hook.last_error else ''}")
        elif age is not None and age > settings.webhook_backlog_age_s:
            c.worsen("degraded", f"{who}: {_deliveries(waiting)} undelivered, the oldest {age:.0f} s old "
                                 f"(threshold {settings.webhook_backlog_age_s:g} s)"
                                 f"{'; last error: ' + hook.last_error if hook.last_error else ''}")
        elif waiting > settings.webhook_backlog:
            c.worsen("degraded", f"{who}: {_deliveries(waiting)} undelivered (threshold {settings.webhook_backlog})")
        if backlog.unpublished_dead_letters:
            c.worsen("degraded", f"{who}: {backlog.unpublished_dead_letters} dead-lettered deliveries not yet "
                                 "written to ha.events.dlq (kept in the metadata DB until NATS takes them)")
    c.details = {"webhooks": rows, "paused": sum(r["state"] == "paused" for r in rows),
                 "retry_backlog": sum(r["retry_backlog"] for r in rows), "held": sum(r["held"] for r in rows)}
    if not hooks:
        c.status = "unknown"
        c.reasons.append("no webhooks registered")
    return c


def _deliveries(count: int) -> str:
    return f"{count} deliver{'ies' if count != 1 else 'y'}"


def dead_letters(in_window: int, total: int, reasons: list[dict[str, Any]], settings: Settings,
                 unread: str | None = None) -> Component:
    """Any dead letter within the window (an hour by default): degraded, naming the commonest reasons
    (or why they could not be read)."""
    window = _window(settings.dlq_window_s)
    c = Component("dlq", "nats", details={"in_window": in_window, "window_s": settings.dlq_window_s,
                                          "total": total, "by_reason": reasons})
    if in_window > 0:
        top = "; ".join(f"{r['reason']} ({r['count']})" for r in reasons[:3])
        c.worsen("degraded", f"{in_window} dead letter{'s' if in_window != 1 else ''} in the last {window}"
                             f"{': ' + top if top else ''}")
        if unread:
            c.reasons.append(f"their reasons could not be read: {unread}")
    return c


def _messages(count: int) -> str:
    return f"{count} message{'s' if count != 1 else ''}"


def _window(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} s"

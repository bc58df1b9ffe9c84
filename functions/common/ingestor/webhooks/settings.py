"""Webhook knobs from the environment, read once per process (the functions restart on redeploy)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import settings
from ingestor.settings import setting


@dataclass(frozen=True)
class Settings:
    allow_private: bool = setting("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    """Loopback, private and link-local targets allowed (the SSRF guard refuses them otherwise)."""
    timeout_s: float = setting("WEBHOOK_TIMEOUT_S", 5.0)
    """One attempt's connect + read timeout."""
    max_attempts: int = setting("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, clamp=True)
    """Then the delivery fails for good (backoff 2 s doubling, jittered: 2 to 4 minutes)."""
    backoff_s: float = setting("WEBHOOK_BACKOFF_S", 2.0)
    """First retry delay; doubles per attempt, with jitter."""
    backoff_cap_s: float = setting("WEBHOOK_BACKOFF_CAP_S", 600.0)
    pause_after: int = setting("WEBHOOK_PAUSE_AFTER", 10, minimum=1, clamp=True)
    """Consecutive failed attempts before the webhook is paused."""
    workers: int = setting("WEBHOOK_WORKERS", 16, minimum=1, clamp=True)
    """Concurrent outbound requests per process."""
    inline_budget_s: float = setting("WEBHOOK_INLINE_BUDGET_S", 20.0)
    """Time an invocation spends on first attempts; the rest go to the sweeper."""
    sweep_s: float = setting("WEBHOOK_SWEEP_S", 1.0)
    """How often due retries are looked for (0: never; tests and benches)."""
    lease_s: float = setting("WEBHOOK_LEASE_S", 60.0)
    """A claimed delivery is its sender's until then (a crashed sender's is retried after)."""
    log_keep: int = setting("WEBHOOK_LOG_KEEP", 1000, minimum=10, clamp=True)
    """Attempts kept in the delivery log per webhook."""
    log_days: int = setting("WEBHOOK_LOG_DAYS", 30, minimum=1, clamp=True)
    """Attempts and finished deliveries older than this are pruned."""


def load() -> Settings:
    """The settings; the lease is stretched to outlast an invocation's sends, so no claim is taken twice."""
    read = settings.load(Settings)
    return settings.load(Settings, lease_s=max(read.lease_s, read.inline_budget_s + read.timeout_s + 5,
                                               2 * read.timeout_s + 5))

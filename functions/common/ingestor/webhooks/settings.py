"""Webhook knobs from the environment, read once per process (the functions restart on redeploy).

Every duration is a setting, so the fault tests run this same schedule on a compressed clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ingestor import settings
from ingestor.settings import setting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    allow_private: bool = setting("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    """Loopback, private and link-local targets allowed (the SSRF guard refuses them otherwise)."""
    timeout_s: float = setting("WEBHOOK_TIMEOUT_S", 5.0)
    """One attempt's connect + read timeout."""
    max_attempts: int = setting("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, clamp=True)
    """Then the delivery is dead-lettered (backoff 2 s doubling, jittered: 2 to 4 minutes)."""
    backoff_s: float = setting("WEBHOOK_BACKOFF_S", 2.0)
    """First retry delay; doubles per attempt, with jitter."""
    backoff_cap_s: float = setting("WEBHOOK_BACKOFF_CAP_S", 600.0)
    pause_after: int = setting("WEBHOOK_PAUSE_AFTER", 5, minimum=1, clamp=True)
    """Failed attempts in a row, and"""
    pause_after_s: float = setting("WEBHOOK_PAUSE_AFTER_S", 60.0, minimum=0.0, clamp=True)
    """failing for this long without a success: the webhook is paused (its events held)."""
    probe_s: float = setting("WEBHOOK_PROBE_S", 30.0, minimum=0.1, clamp=True)
    """While paused, the oldest held delivery is tried this often; a success resumes."""
    hold_max_age_s: float = setting("WEBHOOK_HOLD_MAX_AGE_S", 86400.0, minimum=1.0, clamp=True)
    """Held deliveries older than this are dead-lettered."""
    hold_max: int = setting("WEBHOOK_HOLD_MAX", 50_000, minimum=1, clamp=True)
    """Held deliveries per webhook beyond this are dead-lettered, oldest first."""
    drain_chunk: int = setting("WEBHOOK_DRAIN_CHUNK", 100, minimum=1, clamp=True)
    """Held deliveries sent in order per webhook and round."""
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

    def min_retry_horizon_s(self) -> float:
        """The shortest time a delivery can spend on its attempts (every jitter at ½)."""
        return sum(min(self.backoff_s * 2 ** n, self.backoff_cap_s) * 0.5 for n in range(self.max_attempts - 1))


def load() -> Settings:
    """The settings; the lease is stretched to outlast an invocation's sends, so no claim is taken twice."""
    read = settings.load(Settings)
    found = settings.load(Settings, lease_s=max(read.lease_s, read.inline_budget_s + read.timeout_s + 5,
                                                2 * read.timeout_s + 5))
    if found.pause_after_s >= found.min_retry_horizon_s():
        log.warning("WEBHOOK_PAUSE_AFTER_S is not shorter than the shortest retry schedule: a receiver that is down "
                    "gets deliveries dead-lettered before its webhook pauses and holds them",
                    extra={"pause_after_s": found.pause_after_s, "min_retry_horizon_s": found.min_retry_horizon_s()})
    return found

"""Webhook knobs from the environment, read once per process (the functions restart on redeploy).

Every duration is a setting, so the fault tests run this same schedule on a compressed clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ingestor import config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS: loopback, private and link-local targets allowed
    timeout_s: float = 5.0  # one attempt's connect + read timeout
    max_attempts: int = 8  # then the delivery is dead-lettered (backoff 2 s doubling, jittered: 2 to 4 minutes)
    backoff_s: float = 2.0  # first retry delay; doubles per attempt, with jitter
    backoff_cap_s: float = 600.0
    pause_after: int = 5  # failed attempts in a row, and
    pause_after_s: float = 60.0  # failing for this long without a success: the webhook is paused (its events held)
    probe_s: float = 30.0  # while paused, the oldest held delivery is tried this often; a success resumes
    hold_max_age_s: float = 86400.0  # held deliveries older than this are dead-lettered
    hold_max: int = 50_000  # held deliveries per webhook beyond this are dead-lettered, oldest first
    drain_chunk: int = 100  # held deliveries sent in order per webhook and round
    workers: int = 16  # concurrent outbound requests per process
    inline_budget_s: float = 20.0  # time an invocation spends on first attempts; the rest go to the sweeper
    sweep_s: float = 1.0  # how often due retries are looked for (0: never; tests and benches)
    lease_s: float = 60.0  # a claimed delivery is its sender's until then (a crashed sender's is retried after)
    log_keep: int = 1000  # attempts kept in the delivery log per webhook
    log_days: int = 30  # attempts and finished deliveries older than this are pruned

    def min_retry_horizon_s(self) -> float:
        """The shortest time a delivery can spend on its attempts (every jitter at ½)."""
        return sum(min(self.backoff_s * 2 ** n, self.backoff_cap_s) * 0.5 for n in range(self.max_attempts - 1))


def load() -> Settings:
    """The settings; the lease is stretched to outlast an invocation's sends, so no claim is taken twice."""
    timeout_s = config.env_float("WEBHOOK_TIMEOUT_S", 5.0)
    inline_budget_s = config.env_float("WEBHOOK_INLINE_BUDGET_S", 20.0)
    found = Settings(
        allow_private=config.env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False),
        timeout_s=timeout_s,
        max_attempts=max(1, config.env_int("WEBHOOK_MAX_ATTEMPTS", 8)),
        backoff_s=config.env_float("WEBHOOK_BACKOFF_S", 2.0),
        backoff_cap_s=config.env_float("WEBHOOK_BACKOFF_CAP_S", 600.0),
        pause_after=max(1, config.env_int("WEBHOOK_PAUSE_AFTER", 5)),
        pause_after_s=max(0.0, config.env_float("WEBHOOK_PAUSE_AFTER_S", 60.0)),
        probe_s=max(0.1, config.env_float("WEBHOOK_PROBE_S", 30.0)),
        hold_max_age_s=max(1.0, config.env_float("WEBHOOK_HOLD_MAX_AGE_S", 86400.0)),
        hold_max=max(1, config.env_int("WEBHOOK_HOLD_MAX", 50_000)),
        drain_chunk=max(1, config.env_int("WEBHOOK_DRAIN_CHUNK", 100)),
        workers=max(1, config.env_int("WEBHOOK_WORKERS", 16)),
        inline_budget_s=inline_budget_s,
        sweep_s=config.env_float("WEBHOOK_SWEEP_S", 1.0),
        lease_s=max(config.env_float("WEBHOOK_LEASE_S", 60.0), inline_budget_s + timeout_s + 5, 2 * timeout_s + 5),
        log_keep=max(10, config.env_int("WEBHOOK_LOG_KEEP", 1000)),
        log_days=max(1, config.env_int("WEBHOOK_LOG_DAYS", 30)),
    )
    if found.pause_after_s >= found.min_retry_horizon_s():
        log.warning("WEBHOOK_PAUSE_AFTER_S is not shorter than the shortest retry schedule: a receiver that is down "
                    "gets deliveries dead-lettered before its webhook pauses and holds them",
                    extra={"pause_after_s": found.pause_after_s, "min_retry_horizon_s": found.min_retry_horizon_s()})
    return found

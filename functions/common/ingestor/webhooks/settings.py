"""Webhook knobs from the environment, read once per process (the functions restart on redeploy)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import config


@dataclass(frozen=True)
class Settings:
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS: loopback, private and link-local targets allowed
    timeout_s: float = 5.0  # one attempt's connect + read timeout
    max_attempts: int = 8  # then the delivery fails for good (backoff 2 s doubling, jittered: 2 to 4 minutes)
    backoff_s: float = 2.0  # first retry delay; doubles per attempt, with jitter
    backoff_cap_s: float = 600.0
    pause_after: int = 10  # consecutive failed attempts before the webhook is paused
    workers: int = 16  # concurrent outbound requests per process
    inline_budget_s: float = 20.0  # time an invocation spends on first attempts; the rest go to the sweeper
    sweep_s: float = 1.0  # how often due retries are looked for (0: never; tests and benches)
    lease_s: float = 60.0  # a claimed delivery is its sender's until then (a crashed sender's is retried after)
    log_keep: int = 1000  # attempts kept in the delivery log per webhook
    log_days: int = 30  # attempts and finished deliveries older than this are pruned


def load() -> Settings:
    """The settings; the lease is stretched to outlast an invocation's sends, so no claim is taken twice."""
    timeout_s = config.env_float("WEBHOOK_TIMEOUT_S", 5.0)
    inline_budget_s = config.env_float("WEBHOOK_INLINE_BUDGET_S", 20.0)
    return Settings(
        allow_private=config.env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False),
        timeout_s=timeout_s,
        max_attempts=max(1, config.env_int("WEBHOOK_MAX_ATTEMPTS", 8)),
        backoff_s=config.env_float("WEBHOOK_BACKOFF_S", 2.0),
        backoff_cap_s=config.env_float("WEBHOOK_BACKOFF_CAP_S", 600.0),
        pause_after=max(1, config.env_int("WEBHOOK_PAUSE_AFTER", 10)),
        workers=max(1, config.env_int("WEBHOOK_WORKERS", 16)),
        inline_budget_s=inline_budget_s,
        sweep_s=config.env_float("WEBHOOK_SWEEP_S", 1.0),
        lease_s=max(config.env_float("WEBHOOK_LEASE_S", 60.0), inline_budget_s + timeout_s + 5, 2 * timeout_s + 5),
        log_keep=max(10, config.env_int("WEBHOOK_LOG_KEEP", 1000)),
        log_days=max(1, config.env_int("WEBHOOK_LOG_DAYS", 30)),
    )

"""The health function's thresholds and endpoints, from the environment (read once per process)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import config, metadata, settings, store, subjects
from ingestor.settings import setting


def _url(raw: str) -> str | None:
    return raw.rstrip("/") or None


def _urls(raw: str) -> tuple[str, ...]:
    return tuple(url.strip().rstrip("/") for url in raw.split(",") if url.strip())


@dataclass(frozen=True)
class Settings:
    gateway_url: str | None = setting("GATEWAY_URL", parse=_url)
    bridge_urls: tuple[str, ...] = setting("BRIDGE_URL", (), parse=_urls)
    """One per replica of the bridge (comma separated)."""
    nats_url: str = setting("NATS_URL", "nats://127.0.0.1:4222")
    store_url: str = ""
    metadata_url: str = ""
    connector_metrics_url: str | None = None
    """CONNECTOR_METRICS_URL, else the gateway's /metrics (the local runtime's connector)."""
    stream: str = subjects.STREAM
    probe_timeout_s: float = setting("HEALTH_PROBE_TIMEOUT_S", 2.0)
    cache_s: float = setting("HEALTH_CACHE_S", 2.0)
    lag_pending: int = setting("HEALTH_LAG_PENDING", 10_000)
    """A consumer with more unprocessed messages than this is degraded."""
    lag_stall_s: float = setting("HEALTH_LAG_STALL_S", 300.0)
    """Pending > 0 and no ack for this long: degraded."""
    dlq_window_s: float = setting("HEALTH_DLQ_WINDOW_S", 3600.0)
    """Dead letters younger than this make the system degraded."""
    dlq_recent: int = setting("HEALTH_DLQ_RECENT", 50)
    dlq_scan: int = setting("HEALTH_DLQ_SCAN", 1000)
    dlq_max_bytes: int = setting("HEALTH_DLQ_MAX_BYTES", 16 * 1024 * 1024)
    """What one look at the dead letters may read."""
    bridge_grace_s: float = setting("HEALTH_BRIDGE_GRACE_S", 60.0)
    """Disconnected from HA shorter than this: reconnecting (degraded)."""
    start_grace_s: float = setting("HEALTH_START_GRACE_S", 60.0)
    """A function scaled to zero whose start from zero takes longer than this: unhealthy (before: starting, ok)."""
    webhook_backlog_age_s: float = setting("HEALTH_WEBHOOK_BACKLOG_AGE_S", 300.0)
    """A webhook's oldest undelivered event older than this: degraded."""
    webhook_backlog: int = setting("HEALTH_WEBHOOK_BACKLOG", 10_000)
    """More undelivered deliveries of one webhook than this: degraded."""

    @property
    def thresholds(self) -> dict[str, object]:
        """What GET /config shows of the rules (docs/health.md)."""
        return {name: value for name, value in settings.describe(self).items()
                if not name.endswith(("_url", "_urls")) and name != "stream"}


def load() -> Settings:
    gateway = _url(config.env_str("GATEWAY_URL") or "")
    return settings.load(Settings, store_url=store.default_url(), metadata_url=metadata.default_url(),
                         connector_metrics_url=config.env_str("CONNECTOR_METRICS_URL")
                         or (f"{gateway}/metrics" if gateway else None))

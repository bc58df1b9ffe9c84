"""The health function's thresholds and endpoints, from the environment (read once per process)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import config, metadata, store, subjects


@dataclass(frozen=True)
class Settings:
    gateway_url: str | None
    bridge_url: str | None
    nats_url: str
    store_url: str
    metadata_url: str
    connector_metrics_url: str | None
    stream: str = subjects.STREAM
    probe_timeout_s: float = 2.0
    cache_s: float = 2.0
    lag_pending: int = 10_000  # a consumer with more unprocessed messages than this is degraded
    lag_stall_s: float = 300.0  # pending > 0 and no ack for this long: degraded
    dlq_window_s: float = 3600.0  # dead letters younger than this make the system degraded
    dlq_recent: int = 50
    dlq_scan: int = 1000
    dlq_max_bytes: int = 16 * 1024 * 1024  # what one look at the dead letters may read
    bridge_grace_s: float = 60.0  # disconnected from HA shorter than this: reconnecting (degraded)

    @classmethod
    def load(cls) -> Settings:
        gateway = (config.env_str("GATEWAY_URL") or "").rstrip("/") or None
        connector_metrics = config.env_str("CONNECTOR_METRICS_URL") or (f"{gateway}/metrics" if gateway else None)
        return cls(
            gateway_url=gateway,
            bridge_url=(config.env_str("BRIDGE_URL") or "").rstrip("/") or None,
            nats_url=config.env_str("NATS_URL", "nats://127.0.0.1:4222") or "",
            store_url=store.default_url(),
            metadata_url=metadata.default_url(),
            connector_metrics_url=connector_metrics,
            probe_timeout_s=config.env_float("HEALTH_PROBE_TIMEOUT_S", 2.0),
            cache_s=config.env_float("HEALTH_CACHE_S", 2.0),
            lag_pending=config.env_int("HEALTH_LAG_PENDING", 10_000),
            lag_stall_s=config.env_float("HEALTH_LAG_STALL_S", 300.0),
            dlq_window_s=config.env_float("HEALTH_DLQ_WINDOW_S", 3600.0),
            dlq_recent=config.env_int("HEALTH_DLQ_RECENT", 50),
            dlq_scan=config.env_int("HEALTH_DLQ_SCAN", 1000),
            dlq_max_bytes=config.env_int("HEALTH_DLQ_MAX_BYTES", 16 * 1024 * 1024),
            bridge_grace_s=config.env_float("HEALTH_BRIDGE_GRACE_S", 60.0),
        )

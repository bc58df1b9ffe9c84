"""The bridge's configuration: environment variables, and the token from the OpenFaaS secrets folder.

Everything is read once at start, checked, and frozen; a bad value stops the bridge with a message
naming the variable (exit code 78) instead of failing later inside a thread.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ingestor import config
from ingestor.config import ConfigError

DEFAULT_EVENT_TYPES = (
    "state_changed", "call_service", "automation_triggered", "script_started",
    "homeassistant_start", "homeassistant_stop",
    "device_registry_updated", "entity_registry_updated", "area_registry_updated",
)
REGISTRY_EVENTS = frozenset({"device_registry_updated", "entity_registry_updated", "area_registry_updated"})


def websocket_url(ha_url: str) -> str:
    """`ws(s)://<host>/api/websocket` from HA_URL, which may be the http(s) base URL or the WS URL itself."""
    parts = urlsplit(ha_url.strip())
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ConfigError(f"HA_URL must be http(s):// or ws(s):// with a host, got {ha_url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/api/websocket"):
        path += "/api/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class Settings:
    ha_url: str
    token: str = field(repr=False)
    nats_url: str = "nats://127.0.0.1:4222"
    event_types: tuple[str, ...] = DEFAULT_EVENT_TYPES
    ca_file: str | None = None
    verify_tls: bool = True
    batch_size: int = 100
    batch_ms: int = 100
    spool_dir: Path = Path("/var/lib/ha-bridge")
    spool_max_bytes: int = 1024**3
    ack_timeout_s: float = 5.0
    ping_interval_s: float = 30.0
    ping_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 60.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 300.0
    backfill: bool = True
    backfill_max_hours: float = 24.0
    backfill_recheck_s: float = 10.0
    registry_debounce_s: float = 2.0
    part_max_items: int = 500
    part_max_bytes: int = 512 * 1024
    dedup_size: int = 50_000  # ids seen recently: backfill overlaps the live stream by seconds to minutes
    health_host: str = "0.0.0.0"
    health_port: int = 8080

    @property
    def ws_url(self) -> str:
        return websocket_url(self.ha_url)

    def ssl_context(self) -> ssl.SSLContext | None:
        """For wss://: the system CAs, or only HA_CA_FILE's (a self-signed HA); None for ws://."""
        if not self.ws_url.startswith("wss://"):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    @classmethod
    def from_env(cls) -> Settings:
        ha_url = config.env_str("HA_URL")
        if not ha_url:
            raise ConfigError("HA_URL is not set (e.g. http://homeassistant.local:8123)")
        websocket_url(ha_url)
        token = config.secret("ha-token", "HA_TOKEN")
        if not token:
            raise ConfigError(f"no Home Assistant token: put a long-lived access token in "
                              f"{config.secrets_dir() / 'ha-token'} or HA_TOKEN")
        ca_file = config.env_str("HA_CA_FILE")
        if ca_file and not Path(ca_file).is_file():
            raise ConfigError(f"HA_CA_FILE {ca_file!r} is not a file")
        event_types = tuple(config.env_list("HA_EVENT_TYPES", list(DEFAULT_EVENT_TYPES)))
        if not event_types:
            raise ConfigError("HA_EVENT_TYPES lists no event type")
        settings = cls(
            ha_url=ha_url,
            token=token,
            nats_url=config.env_str("NATS_URL", cls.nats_url),
            event_types=event_types,
            ca_file=ca_file,
            verify_tls=config.env_bool("HA_VERIFY_TLS", True),
            batch_size=config.env_int("BRIDGE_BATCH_SIZE", cls.batch_size),
            batch_ms=config.env_int("BRIDGE_BATCH_MS", cls.batch_ms),
            spool_dir=Path(config.env_str("BRIDGE_SPOOL_DIR", str(cls.spool_dir))),
            spool_max_bytes=config.env_int("BRIDGE_SPOOL_MAX_BYTES", cls.spool_max_bytes),
            ack_timeout_s=config.env_float("BRIDGE_ACK_TIMEOUT_S", cls.ack_timeout_s),
            ping_interval_s=config.env_float("BRIDGE_PING_INTERVAL_S", cls.ping_interval_s),
            ping_timeout_s=config.env_float("BRIDGE_PING_TIMEOUT_S", cls.ping_timeout_s),
            request_timeout_s=config.env_float("BRIDGE_REQUEST_TIMEOUT_S", cls.request_timeout_s),
            reconnect_min_s=config.env_float("BRIDGE_RECONNECT_MIN_S", cls.reconnect_min_s),
            reconnect_max_s=config.env_float("BRIDGE_RECONNECT_MAX_S", cls.reconnect_max_s),
            backfill=config.env_bool("BRIDGE_BACKFILL", cls.backfill),
            backfill_max_hours=config.env_float("BRIDGE_BACKFILL_MAX_HOURS", cls.backfill_max_hours),
            backfill_recheck_s=config.env_float("BRIDGE_BACKFILL_RECHECK_S", cls.backfill_recheck_s),
            registry_debounce_s=config.env_float("BRIDGE_REGISTRY_DEBOUNCE_S", cls.registry_debounce_s),
            part_max_items=config.env_int("BRIDGE_REGISTRY_PART_ITEMS", cls.part_max_items),
            part_max_bytes=config.env_int("BRIDGE_REGISTRY_PART_BYTES", cls.part_max_bytes),
            dedup_size=config.env_int("BRIDGE_DEDUP_SIZE", cls.dedup_size),
            health_host=config.env_str("BRIDGE_HEALTH_HOST", cls.health_host),
            health_port=config.env_int("BRIDGE_HEALTH_PORT", cls.health_port),
        )
        settings.check()
        return settings

    def check(self) -> None:
        positive = {"BRIDGE_BATCH_SIZE": self.batch_size, "BRIDGE_BATCH_MS": self.batch_ms,
                    "BRIDGE_SPOOL_MAX_BYTES": self.spool_max_bytes, "BRIDGE_ACK_TIMEOUT_S": self.ack_timeout_s,
                    "BRIDGE_PING_INTERVAL_S": self.ping_interval_s, "BRIDGE_PING_TIMEOUT_S": self.ping_timeout_s,
                    "BRIDGE_RECONNECT_MIN_S": self.reconnect_min_s, "BRIDGE_REGISTRY_PART_ITEMS": self.part_max_items,
                    "BRIDGE_DEDUP_SIZE": self.dedup_size}
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ConfigError("BRIDGE_RECONNECT_MAX_S must be at least BRIDGE_RECONNECT_MIN_S")
        if not 0 <= self.health_port < 65536:
            raise ConfigError(f"BRIDGE_HEALTH_PORT must be a port number, got {self.health_port}")

"""The bridge's configuration: environment variables, and the token from the OpenFaaS secrets folder.

Everything is read once at start, checked, and frozen; a bad value stops the bridge with a message
naming the variable (exit code 78) instead of failing later inside a thread.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ingestor import config, settings
from ingestor.config import ConfigError
from ingestor.settings import secret, setting

DEFAULT_EVENT_TYPES = (
    "state_changed", "call_service", "automation_triggered", "script_started", "logbook_entry",
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


def _ca_file(raw: str) -> str:
    if not Path(raw).is_file():
        raise ValueError(f"{raw!r} is not a file")
    return raw


@dataclass(frozen=True)
class Settings:
    ha_url: str = setting("HA_URL", "")
    token: str = secret("ha-token", env="HA_TOKEN")
    nats_url: str = setting("NATS_URL", "nats://127.0.0.1:4222")
    event_types: tuple[str, ...] = setting("HA_EVENT_TYPES", DEFAULT_EVENT_TYPES)
    ca_file: str | None = setting("HA_CA_FILE", parse=_ca_file)
    verify_tls: bool = setting("HA_VERIFY_TLS", True)
    batch_size: int = setting("BRIDGE_BATCH_SIZE", 100)
    batch_ms: int = setting("BRIDGE_BATCH_MS", 100)
    spool_dir: Path = setting("BRIDGE_SPOOL_DIR", Path("/var/lib/ha-bridge"))
    spool_max_bytes: int = setting("BRIDGE_SPOOL_MAX_BYTES", 1024**3)
    ack_timeout_s: float = setting("BRIDGE_ACK_TIMEOUT_S", 5.0)
    ping_interval_s: float = setting("BRIDGE_PING_INTERVAL_S", 30.0)
    ping_timeout_s: float = setting("BRIDGE_PING_TIMEOUT_S", 10.0)
    connect_timeout_s: float = 10.0
    request_timeout_s: float = setting("BRIDGE_REQUEST_TIMEOUT_S", 60.0)
    reconnect_min_s: float = setting("BRIDGE_RECONNECT_MIN_S", 1.0)
    reconnect_max_s: float = setting("BRIDGE_RECONNECT_MAX_S", 300.0)
    backfill: bool = setting("BRIDGE_BACKFILL", True)
    backfill_max_hours: float = setting("BRIDGE_BACKFILL_MAX_HOURS", 24.0)
    backfill_recheck_s: float = setting("BRIDGE_BACKFILL_RECHECK_S", 10.0)
    registry_debounce_s: float = setting("BRIDGE_REGISTRY_DEBOUNCE_S", 2.0)
    part_max_items: int = setting("BRIDGE_REGISTRY_PART_ITEMS", 500)
    part_max_bytes: int = setting("BRIDGE_REGISTRY_PART_BYTES", 512 * 1024)
    dedup_size: int = setting("BRIDGE_DEDUP_SIZE", 50_000)
    """Ids seen recently: backfill overlaps the live stream by seconds to minutes."""
    health_host: str = setting("BRIDGE_HEALTH_HOST", "0.0.0.0")
    health_port: int = setting("BRIDGE_HEALTH_PORT", 8080)
    replica: str = setting("BRIDGE_REPLICA", "")
    """Which replica this is (BRIDGE_REPLICA, else the host name): in logs, /health and its gap records."""

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

    def check(self) -> None:
        if not self.ha_url:
            raise ConfigError("HA_URL is not set (e.g. http://homeassistant.local:8123)")
        websocket_url(self.ha_url)
        if not self.token:
            raise ConfigError(f"no Home Assistant token: put a long-lived access token in "
                              f"{config.secrets_dir() / 'ha-token'} or HA_TOKEN")
        if not self.event_types:
            raise ConfigError("HA_EVENT_TYPES lists no event type")
        positive = ("batch_size", "batch_ms", "spool_max_bytes", "ack_timeout_s", "ping_interval_s", "ping_timeout_s",
                    "reconnect_min_s", "part_max_items", "dedup_size")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{settings.variable(Settings, name)} must be positive, got {getattr(self, name)}")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ConfigError("BRIDGE_RECONNECT_MAX_S must be at least BRIDGE_RECONNECT_MIN_S")
        if not 0 <= self.health_port < 65536:
            raise ConfigError(f"BRIDGE_HEALTH_PORT must be a port number, got {self.health_port}")


def load() -> Settings:
    """Every value read and checked once, at start; a replica not named is named by its host."""
    loaded = settings.load(Settings)
    return loaded if loaded.replica else dataclasses.replace(loaded, replica=socket.gethostname())

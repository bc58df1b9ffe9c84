"""The JetStream stream every subject lives in, declared once for the bridge, functions and connector."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from ingestor import config, subjects

HA_STREAM = subjects.STREAM
DAY = 86_400


def ha_stream() -> StreamConfig:
    """Bounded by age and size (7 days, 8 GiB by default) so a stage may be down for days."""
    return StreamConfig(
        name=HA_STREAM,
        subjects=list(subjects.STREAM_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=config.env_float("STREAM_MAX_AGE_DAYS", 7) * DAY,
        max_bytes=config.env_int("STREAM_MAX_BYTES", 8 * 1024**3),
        duplicate_window=config.env_float("STREAM_DUPLICATE_WINDOW_S", 1200),
    )


async def ensure(js: JetStreamContext, stream: StreamConfig) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent)."""
    try:
        await js.add_stream(stream)
    except BadRequestError as exc:
        if exc.err_code != 10058:  # stream name already in use with a different configuration
            raise
        await js.update_stream(stream)

"""metadata-sync: keeps the metadata DB (areas, devices, entities, HA config) in step with ha.registry."""

from __future__ import annotations

import functools
from typing import Any

from ingestor import metadata, stage, subjects
from ingestor.errors import Unavailable
from ingestor.metadata.registry import MetadataDB, problem
from ingestor.store.model import StoreUnavailable


@functools.cache
def metadata_db() -> MetadataDB:
    return MetadataDB(metadata.default_url())


def _check(part: Any) -> tuple[Any, str | None]:
    reason = problem(part)
    return (None, reason) if reason else (part, None)


def _deliver(batch_id: str, parts: list[dict[str, Any]]) -> None:
    try:
        metadata_db().apply(parts)
    except StoreUnavailable as exc:
        raise Unavailable(str(exc), code="metadata_unavailable") from None


def handle(event: Any, context: Any) -> dict[str, Any]:
    return stage.run(event, "metadata-sync", subjects.REGISTRY, _deliver, _check)


def health() -> dict[str, Any]:
    return metadata_db().health()

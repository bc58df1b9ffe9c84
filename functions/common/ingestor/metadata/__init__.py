"""The metadata DB: Home Assistant's areas, devices and entities (and its config), kept current."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ingestor import config

if TYPE_CHECKING:
    from ingestor.metadata.directory import Directory
    from ingestor.metadata.registry import MetadataDB


def default_url() -> str:
    """METADATA_DB_URL, else an SQLite file in DATA_DIR (the local runtime's data folder)."""
    return config.env_str("METADATA_DB_URL") or f"sqlite:///{config.env_str('DATA_DIR', '.data')}/metadata.db"


@functools.cache
def shared() -> MetadataDB:
    """The process's metadata DB at default_url(), opened once (one engine, one connection pool)."""
    from ingestor.metadata.registry import MetadataDB

    return MetadataDB(default_url())


@functools.cache
def shared_directory() -> Directory:
    """Where each entity lives, read from shared() and kept for normalize (ingestor.metadata.directory)."""
    from ingestor.metadata.directory import Directory

    return Directory(shared())

"""The metadata DB: Home Assistant's areas, devices and entities (and its config), kept current."""

from __future__ import annotations

from ingestor import config


def default_url() -> str:
    """METADATA_DB_URL, else an SQLite file in DATA_DIR (the local runtime's data folder)."""
    return config.env_str("METADATA_DB_URL") or f"sqlite:///{config.env_str('DATA_DIR', '.data')}/metadata.db"

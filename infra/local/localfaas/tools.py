"""The binaries `make tools` builds from their Go modules (tools/go/<name>), found where it puts them."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def binary(name: str) -> Path | None:
    """`name` in TOOLS_BIN (default .tools/bin), if `make tools` built it."""
    path = Path(os.environ.get("TOOLS_BIN") or REPO / ".tools" / "bin") / name
    return path if os.access(path, os.X_OK) else None

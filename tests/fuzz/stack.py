"""The stack fuzzed: README's stack.yml, every function as users run it, with what must not leave this machine
pointed at a closed local port (weather, air quality, carbon, prices, ESPN) and the webhooks admin API on a
metadata DB of its own, so a fuzzed registration of a public URL never receives the pipeline's events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from localfaas.natsserver import free_port
from tests.support.runtime import REPO

STACK = REPO / "stack.yml"
PROVIDER_URLS = ("OPEN_METEO_URL", "OPEN_METEO_AIR_QUALITY_URL", "CARBON_INTENSITY_URL", "OCTOPUS_URL",
                 "OPENWEATHERMAP_URL", "ESPN_BASE_URL")


def write(folder: Path) -> tuple[Path, dict[str, str]]:
    """A copy of stack.yml with absolute paths (it lives in `folder`), and the environment to run it with."""
    doc: dict[str, Any] = yaml.safe_load(STACK.read_text())  # ${VAR:-default} stay: the runtime expands them
    doc["configuration"]["copy"] = [str((REPO / p).resolve()) for p in doc["configuration"]["copy"]]
    for spec in doc["functions"].values():
        spec["handler"] = str((REPO / spec["handler"]).resolve())
    doc["functions"]["webhooks"]["environment"]["METADATA_DB_URL"] = f"sqlite:///{folder}/webhooks-admin.db"
    path = folder / "stack.fuzz.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    closed = f"http://127.0.0.1:{free_port()}"
    env = {name: closed for name in PROVIDER_URLS}
    env.update(SPORTS_TEAMS="nfl:SF", CONTEXT_LATITUDE="51.5", CONTEXT_LONGITUDE="-0.1")
    return path, env

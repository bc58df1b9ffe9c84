"""What the connectors know of functions: their names and annotations, read from a gateway.

Reading /system/functions (as OpenFaaS's connectors do) keeps the connectors identical in the
local runtime and beside a real OpenFaaS gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from ingestor import subjects


class Annotated:
    """What the connectors read from a function's annotations, whether from stack.yml or a gateway."""

    annotations: dict[str, str]

    @property
    def topics(self) -> list[str]:
        return [t.strip() for t in self.annotations.get("topic", "").split(",") if t.strip()]

    @property
    def schedule(self) -> str | None:
        return self.annotations.get("schedule") if subjects.CRON in self.topics else None

    def setting(self, key: str, default: str) -> str:
        """A runtime or connector setting from the annotation `com.ha-ingestor.<key>`."""
        return self.annotations.get(f"com.ha-ingestor.{key}", default)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(raw: str) -> float:
    """Seconds from "250ms", "30s", "2m", "1h" or a bare number of seconds."""
    raw = raw.strip()
    for suffix in ("ms", "s", "m", "h"):
        if raw.endswith(suffix):
            return float(raw[: -len(suffix)]) * _UNITS[suffix]
    return float(raw)


def timeout_of(annotations: dict[str, str], default: str = "30s") -> float:
    """The invocation timeout from `com.ha-ingestor.timeout`."""
    return duration(annotations.get("com.ha-ingestor.timeout") or default)


@dataclass(frozen=True)
class FunctionInfo(Annotated):
    name: str
    annotations: dict[str, str]


async def functions(session: aiohttp.ClientSession, gateway: str) -> list[FunctionInfo]:
    async with session.get(f"{gateway}/system/functions", timeout=aiohttp.ClientTimeout(total=10)) as r:
        r.raise_for_status()
        return [FunctionInfo(f["name"], dict(f.get("annotations") or {})) for f in await r.json()]

"""What a context source is and what it produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class SourceError(Exception):
    """A provider answered with something unusable (an error status, garbage, a wrong shape)."""


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    postcode: str | None = None  # outward code for regional carbon intensity (UK), e.g. "RG10"


@dataclass(frozen=True)
class Request:
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """One value of a source written as its own series in the event store."""

    key: str
    unit: str | None
    name: str


class Source(Protocol):
    key: str  # weather | air_quality | carbon_intensity | electricity_price
    provider: str
    refresh_s: float
    metrics: tuple[Metric, ...]

    def request(self, location: Location) -> Request: ...

    def parse(self, doc: Any) -> dict[str, Any]:
        """The values from a provider's JSON; raises SourceError for anything else."""
        ...


def number(doc: Any, *path: str | int) -> float:
    """A number at `path` inside `doc`, or SourceError naming the path."""
    value = doc
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise SourceError(f"missing {'.'.join(map(str, path))}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceError(f"{'.'.join(map(str, path))} is not a number")
    return float(value)

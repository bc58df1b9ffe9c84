"""Which tier answers which part of a time range: the coarsest rollup whose buckets fit, raw events for the rest.

A range [start, end) is cut into pieces aligned to the 16-day (the SQL store's, where two or more fit: `pieces`),
day, hour and 5-minute buckets (coarsest inside, finer toward the ends) and the unaligned ends, which only raw
events can answer exactly. A chart with buckets of W seconds may only use rollup periods whose width divides W,
so each rollup bucket falls into exactly one chart bucket. The cost of a read thus grows with the buckets it
returns, not with the events.
"""

from __future__ import annotations

from ingestor.store.rollups import COARSE, WIDTHS

US = 1_000_000
NAMES = {None: "raw", 0: "5m", 1: "1h", 2: "1d", 3: "16d"}
COARSEST_FIRST = ("16d", "1d", "1h", "5m", "raw")  # how a `resolution` lists the tiers

Segment = tuple[int | None, int, int]  # (period, or None for raw; start µs; end µs)


def allowed(width_s: int | None, periods: tuple[int, ...] = (0, 1, 2)) -> tuple[int, ...]:
    """Rollup periods usable for buckets of `width_s` seconds (None: one total), coarsest first, of `periods`: those
    the rollups read keep (the default InfluxDB's; the SQL tables': rollups.TABLE_PERIODS)."""
    return tuple(sorted((p for p in periods if width_s is None or width_s % WIDTHS[p] == 0), reverse=True))


def segments(start: int, end: int, periods: tuple[int, ...]) -> list[Segment]:
    """[start, end) in µs as pieces, in time order."""
    if start >= end:
        return []
    for i, period in enumerate(periods):
        width = WIDTHS[period] * US
        lo, hi = -(-start // width) * width, end // width * width
        if lo < hi:
            finer = periods[i + 1:]
            return [*segments(start, lo, finer), (period, lo, hi), *segments(hi, end, finer)]
    return [(None, start, end)]


def pieces(start: int, end: int, periods: tuple[int, ...]) -> list[Segment]:
    """`segments`, reading 16-day buckets (COARSE, if among `periods`) only where two or more fit: a year reads 22
    of them and a dozen days, not 364 days (SQLite, in process: the summary 40-67 -> 23-40 ms, the durations' state
    sums 67-79 -> 18-19); a single one saves less than the statements of its two ends cost (durations at 30 days:
    12.7 ms without it, 14.3 with)."""
    found = segments(start, end, periods)
    coarse = sum(hi - lo for period, lo, hi in found if period == COARSE) // (WIDTHS[COARSE] * US)
    if coarse == 1:
        return segments(start, end, tuple(p for p in periods if p != COARSE))
    return found


def resolution(pieces: list[Segment]) -> str:
    """What a response says it read: the tiers used, coarsest first, e.g. "1d+1h+5m+raw"."""
    used = {NAMES[period] for period, _, _ in pieces}
    return "+".join(name for name in COARSEST_FIRST if name in used) or "none"

"""The duration anomalies' ranking: the `limit` most severe stays of the sample against their group's median, by
severity, then time, then event id (queries/analytics.py), with ties on severity and on time."""

from __future__ import annotations

import random
import statistics

import pytest

from ingestor.queries import analytics
from ingestor.store.model import StayGroup


def every_anomaly_ranked(groups: list[StayGroup]) -> list[tuple[str, str]]:
    """(event id, kind) of every anomaly, each stay against its group's median, most severe first: the rule
    itself, stay by stay."""
    found = []
    for group in groups:
        if len(group.durations) < analytics.MIN_SAMPLES:
            continue
        median = statistics.median(group.durations)
        if median <= 0:
            continue
        for k, d in enumerate(group.durations):
            if d < analytics.TOO_SHORT * median:
                found.append((-median / max(d, 1e-9), group.times[k], group.event_id(k), "too_short"))
            elif d > analytics.TOO_LONG * median:
                found.append((-d / median, group.times[k], group.event_id(k), "too_long"))
    return [(eid, kind) for *_, eid, kind in sorted(found)]


def sample(rng: random.Random) -> list[StayGroup]:
    """Groups of stays with few distinct durations and times, so that severities and times tie often; some
    groups too small to judge, some with a median of 0."""
    groups = []
    for g in range(rng.randint(1, 12)):
        group = StayGroup(f"light.l{g}", rng.choice(["on", "off"]))
        n = rng.choice([2, 5, 9, 40, 300])
        scale = rng.choice([0.0, 1.0, 60.0])
        durations = [rng.choice([0.0, 0.5, 1.0, 30.0, 60.0, 3600.0, 86_400.0]) * (scale or rng.random() < 0.2)
                     for _ in range(n)]
        times = [rng.randrange(50) * 1_000_000 for _ in range(n)]
        ids = [f"{g:02x}{k:06x}".ljust(32, "0") for k in range(n)]
        for lo in range(0, n, 7):  # in chunks, as a read adds them
            group.add(durations[lo:lo + 7], times[lo:lo + 7], lambda j, lo=lo, ids=ids: ids[lo + j])
        groups.append(group)
    return groups


@pytest.mark.parametrize("seed", range(200))
def test_the_anomalies_answered_are_the_most_severe_of_every_stay_ranked(seed: int) -> None:
    rng = random.Random(seed)
    groups = sample(rng)
    ranked = every_anomaly_ranked(groups)
    for limit in (0, 1, 3, 10, 100, len(ranked), len(ranked) + 1):
        answered = analytics._anomalies(groups, limit, {})
        assert [(a["event_id"], a["kind"]) for a in answered] == ranked[:limit]

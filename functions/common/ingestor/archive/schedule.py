"""When the next cron run is due, read with croniter as the local runtime's cron connector reads it (UTC)."""

from __future__ import annotations

import datetime as dt

from croniter import croniter


def next_run(expression: str, after: dt.datetime) -> dt.datetime | None:
    """The first time after `after` the 5-field expression matches, or None when it is not one."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        return None
    return croniter(expression, after.astimezone(dt.UTC)).get_next(dt.datetime)

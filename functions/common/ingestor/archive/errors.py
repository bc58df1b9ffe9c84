"""What the archive raises. A failing day never loses a row: the store keeps it until its archive verified."""

from __future__ import annotations


class ArchiveError(Exception):
    """A step of archiving, verifying or restoring failed (S3 unreachable, checksum mismatch, ...)."""


class VerificationError(ArchiveError):
    """An archived object does not match what was written: missing, wrong size, checksum or row count."""


class DayProblem(ArchiveError):
    """A day whose archive in the bucket is in a state only a person can decide on (an unreadable manifest, a
    damaged object the store cannot replace): the day is quarantined with `recovery`, later days go on."""

    def __init__(self, message: str, recovery: str) -> None:
        super().__init__(message)
        self.recovery = recovery  # "repair" | "rebuild": the recover action that resolves it


class Busy(ArchiveError):
    """Another run, restore or recovery holds the archive's lease."""

    def __init__(self, holder: str, since: str, action: str, day: str | None = None) -> None:
        at = f", at {day}" if day else ""
        super().__init__(f"the archive is busy: {action} by {holder} since {since}{at}; try again when it ends "
                         "(a holder that died frees it within ARCHIVE_LEASE_S)")
        self.holder, self.since, self.action, self.day = holder, since, action, day

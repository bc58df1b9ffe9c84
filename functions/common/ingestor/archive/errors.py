"""What the archive raises when a step fails; the run stops at the first failing day and deletes nothing."""

from __future__ import annotations


class ArchiveError(Exception):
    """A step of archiving, verifying or restoring failed (S3 unreachable, checksum mismatch, ...)."""


class VerificationError(ArchiveError):
    """An archived object does not match what was written: missing, wrong size, checksum or row count."""

"""What goes wrong, in the domain's words: the input is invalid, too large or refused, a thing is not found or
in a state that forbids the request, a dependency is unavailable.

Modules inside (the bus, the envelope, the stores, the stages, the route handlers) raise these and know nothing
of HTTP; the edge (the function template, ingestor.httpapi) answers each kind with its status in one place,
ingestor.responses.status_of. Each carries a stable `code` for programs and a `message` for people.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A failure a caller is told about: 500 unless a kind below says better."""

    default_code = "error"

    def __init__(self, message: str, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details


class Invalid(Problem):
    """The input is malformed: sending it again cannot help (400)."""

    default_code = "bad_request"


class NotFound(Problem):
    """What the request names does not exist (404)."""

    default_code = "not_found"


class Conflict(Problem):
    """The request is sound but the current state forbids it: busy, not configured (409)."""

    default_code = "conflict"


class TooLarge(Problem):
    """The input exceeds a limit that will not change (413)."""

    default_code = "too_large"


class Refused(Problem):
    """The input is well formed but cannot be taken: nothing of a batch passed, a store refuses a record (422)."""

    default_code = "refused"


class Unavailable(Problem):
    """A dependency (NATS, a database, S3) cannot be reached now: the same request later may succeed (503)."""

    default_code = "unavailable"

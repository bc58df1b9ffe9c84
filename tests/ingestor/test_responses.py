"""ingestor.responses: the one place a domain error becomes a status code and the error body."""

from __future__ import annotations

import pytest

from ingestor import errors, jsoncodec
from ingestor.responses import HTTPError, from_error, status_of
from ingestor.store.model import StoreError, StoreUnavailable


@pytest.mark.parametrize(("error", "status"), [
    (errors.Invalid("x"), 400), (errors.NotFound("x"), 404), (errors.Conflict("x"), 409), (errors.TooLarge("x"), 413),
    (errors.Refused("x"), 422), (errors.Unavailable("x"), 503), (errors.Problem("x"), 500),
    (StoreUnavailable("database gone"), 503), (StoreError("no such column"), 500), (HTTPError(405, "m", "x"), 405),
])
def test_each_kind_of_error_is_answered_with_its_status(error: Exception, status: int) -> None:
    assert status_of(error) == status  # type: ignore[arg-type]


def test_the_error_body_carries_the_code_the_message_and_the_details() -> None:
    reply = from_error(errors.Refused("no event passed", code="no_valid_event", details=[{"index": 0}]))
    assert reply["statusCode"] == 422
    assert jsoncodec.loads(reply["body"]) == {"error": {"code": "no_valid_event", "message": "no event passed",
                                                        "details": [{"index": 0}]}}


def test_a_kind_without_a_code_of_its_own_says_what_it_is() -> None:
    assert (errors.Invalid("x").code, errors.Unavailable("x").code, StoreError("x").code,
            StoreUnavailable("x").code) == ("bad_request", "unavailable", "store_error", "unavailable")

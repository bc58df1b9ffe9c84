"""retention-archive's handler without S3 configured (`make run`'s default): nothing is archived or pruned, and every
answer says why. The archive against a real S3 is tests/archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ingestor.archive import api
from ingestor.archive.run import NOT_CONFIGURED
from tests.support.function import invoke, load_handler


@pytest.fixture()
def handler(process: Path) -> Iterator[ModuleType]:
    module = load_handler("retention-archive")
    yield module
    api.jobs().close()


def test_a_run_or_restore_asked_for_is_a_conflict_that_says_what_to_configure(handler: ModuleType) -> None:
    for path, query in (("/run", {}), ("/restore", {"from": "2025-01-01"})):
        status, answer = invoke(handler, "POST", path, query=query)
        assert (status, answer["error"]) == (409, {"code": "archive_not_configured", "message": NOT_CONFIGURED})


def test_the_daily_run_is_skipped_and_status_says_so(handler: ModuleType) -> None:
    status, report = invoke(handler, "POST", "/")
    assert status == 200 and report["skipped"]
    status, shown = invoke(handler, "GET", "/status")
    assert status == 200 and shown["config"]["enabled"] is False


def test_a_dry_run_flag_it_cannot_read_is_400_not_a_real_run(handler: ModuleType) -> None:
    status, answer = invoke(handler, "POST", "/", query={"dry_run": "perhaps"})
    assert status == 400 and answer["error"]["code"] == "bad_parameter"

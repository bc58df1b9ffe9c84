"""The query API's OpenAPI document: valid OpenAPI 3.0, describing every route; and the API fuzzed with
schemathesis against it (SQLite store, the dataset's home): no 5xx, every answer conforms to its schema."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_30

from tests.queries import dataset
from tests.queries.conftest import Served, load
from tests.support.function import served
from tests.support.runtime import REPO

FUZZ_EXAMPLES = 30  # per operation: the run stays within a few minutes on 2 shared cores
# Left out, on purpose: positive_data_acceptance (a schema cannot say that a time must parse, that a cursor
# must be one the API made, or that a bucket must fit the range: such values are 400s naming the parameter),
# and unsupported_method, allow_header_conformance (405s, from the template for TRACE and from ingestor.httpapi
# for other methods, carry no Allow header).
EXCLUDED = "positive_data_acceptance,unsupported_method,allow_header_conformance"


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("query-fuzz")
    home = dataset.build()
    store_url, metadata_url = f"sqlite:///{folder}/events.db", f"sqlite:///{folder}/metadata.db"
    load(store_url, metadata_url, home)
    env = {"EVENT_STORE_URL": store_url, "METADATA_DB_URL": metadata_url, "SECRETS_DIR": str(folder / "secrets")}
    with served(REPO / "functions" / "query", "query", folder / "query.log", env) as url:
        yield Served(url, "sqlite", home, store_url, metadata_url)


def test_the_document_is_valid_openapi_3_0(sqlite_api: Served) -> None:
    document = sqlite_api.ok("/openapi.json")
    assert document["openapi"] == "3.0.3"
    jsonschema.Draft4Validator(OPENAPI_30).validate(document)


def test_the_document_describes_every_endpoint_of_the_contract(sqlite_api: Served) -> None:
    paths = sqlite_api.ok("/openapi.json")["paths"]
    for path in ("/events", "/entities/{entity_id}/history", "/stats/summary", "/stats/trend",
                 "/analytics/trace/{context_id}", "/analytics/areas", "/analytics/durations",
                 "/analytics/reliability", "/devices", "/devices/{device_id}", "/entities", "/areas", "/config",
                 "/sports/teams/{team}/status", "/sports/games", "/openapi.json"):
        assert "get" in paths[path], path


def test_schemathesis_finds_no_server_error_and_no_nonconforming_answer(sqlite_api: Served, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{sqlite_api.url}/openapi.json",
         "--url", sqlite_api.url, "--checks", "all", "--exclude-checks", EXCLUDED,
         "--max-examples", str(FUZZ_EXAMPLES), "--workers", "2",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "30", "--seed", "1",
         "--report", "junit", "--report-dir", str(report)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-3000:]

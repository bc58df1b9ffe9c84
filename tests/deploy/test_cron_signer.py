"""OpenFaaS's cron-connector reaching the signed cron functions through ha_connector.cronsigner.

cron-connector itself cannot be built here (the Go module proxy refuses github.com/openfaas/cron-connector,
docs/deploy.md), so each test makes the requests it makes (main.go, types/cron_function.go at b07e85a):
GET /system/namespaces and /system/functions?namespace=… with the gateway's basic auth, then on a tick
POST /function/<name>.<namespace> with no body, `X-Topic: cron-function`, `X-Connector: cron-connector`
and no credentials. Behind the signer: the real OpenFaaS gateway and the deployed stack.yml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.support.http import Reply, call
from tests.support.metrics import sample
from tests.support.openfaas import OpenFaaSStack, SignerThread

pytestmark = pytest.mark.integration
CRON_HEADERS = {"X-Topic": "cron-function", "X-Connector": "cron-connector"}
TODAY = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture()
def signer(openfaas: OpenFaaSStack) -> Iterator[SignerThread]:
    thread = SignerThread(openfaas.gateway, openfaas.secret("connector-key"), openfaas.secret("basic-auth-user"),
                          openfaas.secret("basic-auth-password"))
    yield thread
    thread.close()


def tick(signer: SignerThread, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
    """cron-connector's call on a tick: POST <gateway_url>/function/<target>, no credentials."""
    return call("POST", f"{signer.url}/function/{target}", body, {**CRON_HEADERS, **(headers or {})}, timeout=90)


def test_cron_connector_reads_namespaces_and_functions_through_the_signer_with_its_own_basic_auth(
        openfaas: OpenFaaSStack, signer: SignerThread) -> None:
    namespaces = call("GET", f"{signer.url}/system/namespaces", headers=openfaas.auth)
    assert (namespaces.status, namespaces.json()) == (200, ["openfaas-fn"])
    functions = call("GET", f"{signer.url}/system/functions?namespace=openfaas-fn", headers=openfaas.auth).json()
    schedules = {f["name"]: f["annotations"]["schedule"] for f in functions
                 if (f.get("annotations") or {}).get("topic") == "cron-function"}
    assert schedules == {"context-poll": "* * * * *", "sports-poll": "* * * * *", "retention-archive": "17 3 * * *",
                         "health": "* * * * *"}  # health evaluates the alert rules on its tick
    assert call("GET", f"{signer.url}/system/functions").status == 401  # the signer adds no credentials
    assert call("POST", f"{signer.url}/system/functions", b"{}", openfaas.auth).status == 405


@pytest.mark.parametrize("name", ["context-poll", "sports-poll"])
def test_a_minutely_cron_function_is_signed_once_per_tick_and_runs(
        openfaas: OpenFaaSStack, signer: SignerThread, name: str) -> None:
    signer.now = TODAY.replace(second=1)
    first = tick(signer, f"{name}.openfaas-fn")
    assert first.status == 200, first.body
    assert isinstance(first.json(), dict)  # the function's own answer
    again = tick(signer, f"{name}.openfaas-fn")
    assert again.status == 403
    assert "already signed for its" in again.json()["error"]["message"]
    signer.now = TODAY.replace(minute=1, second=2)  # the next tick
    assert tick(signer, name).status == 200


def test_retention_archive_is_signed_at_its_daily_tick_only(openfaas: OpenFaaSStack, signer: SignerThread) -> None:
    signer.now = TODAY
    refused = tick(signer, "retention-archive.openfaas-fn")
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "not_due"
    signer.now = TODAY.replace(hour=3, minute=17, second=4)
    ran = tick(signer, "retention-archive.openfaas-fn")
    assert ran.status == 200, ran.body
    assert ran.json()["skipped"]  # the function's own report: no archive is configured in this stack


def test_a_call_to_a_function_without_a_schedule_is_never_signed(signer: SignerThread) -> None:
    signer.now = TODAY.replace(second=1)
    for name in ("write", "validate", "query", "no-such-function"):
        reply = tick(signer, f"{name}.openfaas-fn")
        assert (reply.status, reply.json()["error"]["code"]) == (403, "not_cron_function"), name


@pytest.mark.parametrize(("target", "body", "code"), [
    ("sports-poll.openfaas-fn", b'{"league": "nfl"}', "refused_request"),
    ("sports-poll.openfaas-fn?force=1", b"", "refused_request"),
    ("retention-archive.openfaas-fn/restore?from=2025-01-01&to=2025-01-31", b"", "refused_path"),
])
def test_a_cron_call_with_input_is_refused(signer: SignerThread, target: str, body: bytes, code: str) -> None:
    signer.now = TODAY.replace(hour=3, minute=17, second=1)
    reply = tick(signer, target, body)
    assert (reply.status, reply.json()["error"]["code"]) == (403, code)


def test_the_same_call_straight_to_the_gateway_is_refused_by_the_function(openfaas: OpenFaaSStack) -> None:
    reply = call("POST", f"{openfaas.gateway}/function/sports-poll.openfaas-fn", b"", CRON_HEADERS)
    assert (reply.status, reply.json()["error"]["code"]) == (401, "unsigned_call")


def test_refusals_are_counted_by_function_and_outcome(signer: SignerThread) -> None:
    signer.now = TODAY
    tick(signer, "write.openfaas-fn")
    tick(signer, "retention-archive.openfaas-fn")
    metrics = f"{signer.url}/metrics"
    assert sample(metrics, "ha_ingestor_cron_signer_calls_total", function="write", outcome="not_cron_function") >= 1
    assert sample(metrics, "ha_ingestor_cron_signer_calls_total", function="retention-archive",
                  outcome="not_due") >= 1

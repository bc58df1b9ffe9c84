"""`make run` on a fresh machine: the local runtime generates every API key that guards a data-changing route
(ingestor.apikeys) on first run, keeps it (mode 0600) and says once where it is, never what it is; the webhooks
admin API and health's alert thresholds, run from README's stack.yml, change data only with those keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestor import apikeys
from tests.support.http import Reply, call
from tests.support.runtime import LocalRuntime, stack_of

pytestmark = pytest.mark.integration
HOOK = json.dumps({"url": "https://93.184.216.34/hook", "filters": {"domains": ["light"]}}).encode()
THRESHOLD = json.dumps({"ALERT_SILENT_FACTOR": 3}).encode()
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    workdir: Path = tmp_path_factory.mktemp("first-run")
    with LocalRuntime(workdir, stack=stack_of(workdir / "stack.yml", ("webhooks", "health"))) as runtime:
        yield runtime


def generated(runtime: LocalRuntime) -> list[dict]:
    lines = [json.loads(line) for line in runtime.log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg", "").startswith("generated an API key")]


def register(runtime: LocalRuntime, headers: dict[str, str]) -> Reply:
    return call("POST", f"{runtime.gateway}/function/webhooks/webhooks", HOOK, headers)


def change_threshold(runtime: LocalRuntime, headers: dict[str, str]) -> Reply:
    return call("PUT", f"{runtime.gateway}/function/health/alerts/thresholds", THRESHOLD, headers)


def test_a_first_run_makes_every_api_key_readable_by_its_owner_only(first_run: LocalRuntime) -> None:
    keys = {key.secret: first_run.workdir / "secrets" / key.secret for key in apikeys.ALL}
    assert {"webhooks-api-key", "alerts-api-key"} <= set(keys)
    for path in keys.values():
        assert path.stat().st_mode & 0o777 == 0o600, path
        assert len(path.read_text().strip()) >= 32
    assert len({path.read_text() for path in keys.values()}) == len(keys)


def test_the_first_run_says_where_each_key_is_and_never_the_key(first_run: LocalRuntime) -> None:
    said = generated(first_run)
    assert sorted(line["secret"] for line in said) == sorted(key.secret for key in apikeys.ALL)
    assert all(line["path"] == str(first_run.workdir / "secrets" / line["secret"]) for line in said)
    log = first_run.log.read_text()
    assert not any(first_run.secret(key.secret) in log for key in apikeys.ALL)


def test_webhooks_change_only_with_the_generated_key(first_run: LocalRuntime) -> None:
    assert register(first_run, JSON).status == 401
    assert register(first_run, {**JSON, "X-API-Key": first_run.secret("alerts-api-key")}).status == 401
    made = register(first_run, first_run.keyed(apikeys.WEBHOOKS))
    assert made.status == 201, made.body
    url = f"{first_run.gateway}/function/webhooks/webhooks/{made.json()['id']}"
    assert call("DELETE", url).status == 401
    assert call("DELETE", url, headers=first_run.keyed(apikeys.WEBHOOKS)).status == 204


def test_alert_thresholds_change_only_with_the_generated_key(first_run: LocalRuntime) -> None:
    assert change_threshold(first_run, JSON).status == 401
    assert change_threshold(first_run, {**JSON, "X-API-Key": first_run.secret("webhooks-api-key")}).status == 401
    changed = change_threshold(first_run, first_run.keyed(apikeys.ALERTS))
    assert changed.status == 200, changed.body
    assert changed.json()["changed"] == ["ALERT_SILENT_FACTOR"]


def test_the_alerts_stay_readable_without_a_key(first_run: LocalRuntime) -> None:
    for path in ("alerts", "alerts/history", "status"):
        assert call("GET", f"{first_run.gateway}/function/health/{path}").status == 200, path


def test_a_second_run_keeps_the_keys_and_a_key_set_in_the_environment_is_used_instead(tmp_path: Path) -> None:
    stack = stack_of(tmp_path / "stack.yml", ("webhooks",))
    with LocalRuntime(tmp_path, stack=stack) as runtime:
        kept = {key.secret: runtime.secret(key.secret) for key in apikeys.ALL}
    with LocalRuntime(tmp_path, stack=stack) as runtime:
        assert {key.secret: runtime.secret(key.secret) for key in apikeys.ALL} == kept
    assert len(generated(runtime)) == len(apikeys.ALL)  # said on the first run only

    elsewhere = tmp_path / "from-env"
    elsewhere.mkdir()
    with LocalRuntime(elsewhere, stack=stack, env={"WEBHOOKS_API_KEY": "the-users-own-webhooks-key"}) as runtime:
        assert not (elsewhere / "secrets" / "webhooks-api-key").exists()
        assert register(runtime, {**JSON, "X-API-Key": "the-users-own-webhooks-key"}).status == 201
        assert [line["secret"] for line in generated(runtime)] == ["alerts-api-key"]

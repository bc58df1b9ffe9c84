"""stack.yml agrees with the functions folder, the connectors' annotations and the deployment's secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

from ha_connector.catalog import duration
from ingestor import apikeys, signedcalls, subjects
from localfaas.stack import LANGUAGE

REPO = Path(__file__).resolve().parents[2]
FUNCTION_BUDGET = 13  # docs/design.md: OpenFaaS CE runs 15; users keep room for their own
PIPELINE_SUBJECTS = {subjects.RAW, subjects.VALID, subjects.NORMALIZED, subjects.ENRICHED, subjects.REGISTRY,
                     subjects.CONTEXT_SAMPLES, subjects.SPORTS_EVENTS, subjects.ALERTS}
SETTINGS = {"timeout": duration, "max-deliver": int, "concurrency": int, "backoff": duration, "coalesce": int}


def stack() -> dict[str, Any]:
    """stack.yml as faas-cli reads it before substitution (${…} stay strings)."""
    return yaml.safe_load((REPO / "stack.yml").read_text(encoding="utf-8"))


def functions() -> dict[str, dict[str, Any]]:
    return stack()["functions"]


def folders() -> set[str]:
    return {p.name for p in (REPO / "functions").iterdir() if p.is_dir() and p.name != "common"}


def test_function_count_stays_within_the_budget() -> None:
    assert len(functions()) <= FUNCTION_BUDGET


def test_every_function_folder_is_in_the_stack_and_every_stack_function_has_its_folder() -> None:
    assert set(functions()) == folders()


def test_write_never_scales_past_one_replica() -> None:
    """Its threads take turns summing InfluxDB's rollups, which two replicas could not (docs/design.md), and a
    SQLite store is one file: an autoscaler (OpenFaaS Pro) must not add a second."""
    assert str(functions()["write"]["labels"]["com.openfaas.scale.max"]) == "1"


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_has_handler_requirements_template_and_image(name: str) -> None:
    fn = functions()[name]
    assert fn["lang"] == LANGUAGE and (REPO / "templates" / LANGUAGE / "template.yml").is_file()
    folder = (REPO / fn["handler"]).resolve()
    assert folder == REPO / "functions" / name
    assert (folder / "handler.py").is_file(), f"functions/{name}/handler.py is missing"
    assert (folder / "requirements.txt").is_file(), f"functions/{name}/requirements.txt is missing"
    image = r"\$\{REGISTRY(:-[^}]*)?\}/" + re.escape(name) + r":\$\{TAG(:-[^}]*)?\}"
    assert re.fullmatch(image, fn["image"]), fn["image"]


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_annotations_are_what_the_connectors_need(name: str) -> None:
    annotations = {k: str(v) for k, v in (functions()[name].get("annotations") or {}).items()}
    topics = [t.strip() for t in annotations.get("topic", "").split(",") if t.strip()]
    for key, value in annotations.items():
        if key.startswith("com.ha-ingestor."):
            setting = key.removeprefix("com.ha-ingestor.")
            assert setting in SETTINGS, f"{name}: unknown connector setting {key}"
            assert SETTINGS[setting](value) > 0, f"{name}: {key}={value}"
    if not topics:
        return
    assert "com.ha-ingestor.timeout" in annotations, f"{name}: a triggered function needs its timeout"
    if subjects.CRON in topics:
        schedule = annotations.get("schedule", "")
        assert topics == [subjects.CRON], f"{name}: a cron function listens to no other topic"
        assert croniter.is_valid(schedule) and len(schedule.split()) == 5, f"{name}: schedule {schedule!r}"
    else:
        assert "schedule" not in annotations, f"{name}: schedule without topic: cron-function"
        unknown = [t for t in topics if t not in PIPELINE_SUBJECTS]
        assert unknown == [], f"{name}: {unknown} are not subjects of ingestor.subjects"
        assert int(annotations["com.ha-ingestor.max-deliver"]) >= 1, f"{name}: pipeline topics need max-deliver"


@pytest.mark.parametrize("name", sorted(functions()))
def test_exactly_the_functions_the_connectors_trigger_accept_only_their_signed_calls(name: str) -> None:
    """What a connector triggers changes data (or feeds what does); the reading functions stay open."""
    fn = functions()[name]
    triggered = bool((fn.get("annotations") or {}).get("topic"))
    signed_only = str((fn.get("environment") or {}).get(signedcalls.REQUIRED, "false")) == "true"
    assert signed_only == triggered, f"{name}: {signedcalls.REQUIRED} must be true exactly when it has a topic"
    assert (signedcalls.SECRET in (fn.get("secrets") or [])) == signed_only, f"{name}: the {signedcalls.SECRET} secret"


def test_a_triggered_function_timeout_fits_the_watchdog_timeout_of_its_image() -> None:
    """of-watchdog ends a request at exec_timeout: a longer connector timeout would only see a 502 earlier."""
    too_long = {}
    for name, fn in functions().items():
        timeout = (fn.get("annotations") or {}).get("com.ha-ingestor.timeout")
        exec_timeout = (fn.get("environment") or {}).get("exec_timeout", "10s")  # of-watchdog's default
        if timeout and duration(str(timeout)) > duration(str(exec_timeout)):
            too_long[name] = (timeout, exec_timeout)
    assert too_long == {}


def function_secrets_in_script(path: Path) -> set[str]:
    """The function secrets a platform's create-secrets.sh makes: the list in infra/secrets.sh, which it sources."""
    assert 'source "$(dirname "$0")/../secrets.sh"' in path.read_text(encoding="utf-8"), path
    match = re.search(r'^FUNCTION_SECRETS="([^"]*)"', (path.parents[1] / "secrets.sh").read_text(encoding="utf-8"),
                      re.M)
    assert match, path
    return {entry.split(":")[0] for entry in match.group(1).split()}


def secrets_named() -> set[str]:
    """Secrets stack.yml lists, and those the shared code reads (config.secret, the API keys) that functions may be
    given."""
    listed = {s for fn in functions().values() for s in fn.get("secrets") or []}
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "functions" / "common").rglob("*.py"))
    return listed | set(re.findall(r'(?:config\.)?secret\("([a-z0-9-]+)"', code)) | {k.secret for k in apikeys.ALL}


@pytest.mark.parametrize("key", [k.secret for k in apikeys.ALL])
def test_every_api_key_is_generated_by_make_secrets_and_given_to_its_function(key: str) -> None:
    entries = re.search(r'^FUNCTION_SECRETS="([^"]*)"', (REPO / "infra" / "secrets.sh").read_text(encoding="utf-8"),
                        re.M)
    assert entries and f"{key}:generate" in entries.group(1).split()
    assert [name for name, fn in functions().items() if key in (fn.get("secrets") or [])] != []


@pytest.mark.parametrize("platform", ["faasd", "k3s"])
def test_every_function_secret_is_created_by_the_platform_script_and_documented(platform: str) -> None:
    folder = REPO / "infra" / platform
    assert secrets_named() <= function_secrets_in_script(folder / "create-secrets.sh")
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert [s for s in sorted(secrets_named()) if f"`{s}`" not in readme] == []

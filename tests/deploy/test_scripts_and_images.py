"""The secret scripts and the connector image's recipe, checked without faas-cli, kubectl or a Docker engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ha-long-lived-token-value"


def run_script(platform: str, secrets: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECRETS_DIR": str(secrets), "FAASD_SECRETS": str(tmp_path / "faasd-secrets"), "DRY_RUN": "1"}
    return subprocess.run([str(REPO / "infra" / platform / "create-secrets.sh")], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("platform", ["faasd", "k3s"])
def test_secret_script_creates_every_secret_and_never_prints_a_value(platform: str, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ha-token").write_text(TOKEN)
    done = run_script(platform, secrets, tmp_path)
    assert done.returncode == 0, done.stderr
    created = set(re.findall(r"faas-cli secret create (\S+) --from-file", done.stdout))
    assert created == {"connector-key", "webhooks-api-key", "alerts-api-key", "s3-access-key", "s3-secret-key",
                       "influxdb-token"}
    generated = {p.name: p.read_text() for p in secrets.iterdir()}
    assert {"connector-key", "webhooks-api-key", "alerts-api-key", "s3-secret-key", "influxdb-token",
            "influxdb-admin-password", "postgres-password"} <= set(generated)
    assert all(len(v) >= 32 for k, v in generated.items() if k not in ("ha-token", "s3-access-key"))
    assert all(value not in done.stdout + done.stderr for value in generated.values())
    if platform == "faasd":
        written = {p.name for p in (tmp_path / "faasd-secrets").iterdir()}
        assert written == {"ha-token", "connector-key", "influxdb-token", "influxdb-admin-password", "s3-access-key",
                           "s3-secret-key", "postgres-password"}
        assert (tmp_path / "faasd-secrets" / "ha-token").read_text() == TOKEN
    else:
        applied = set(re.findall(r"kubectl -n openfaas create secret generic (\S+) ", done.stdout))
        assert applied == {"ha-token", "connector-key", "influxdb-token", "influxdb-admin-password", "s3-access-key",
                           "s3-secret-key", "postgres-password"}


@pytest.mark.parametrize("platform", ["faasd", "k3s"])
def test_secret_script_keeps_existing_values_and_adds_optional_ones_present(platform: str, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in (("ha-token", TOKEN), ("webhooks-api-key", "chosen-key"), ("openweathermap-api-key", "owm")):
        (secrets / name).write_text(value)
    done = run_script(platform, secrets, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (secrets / "webhooks-api-key").read_text() == "chosen-key"
    assert "faas-cli secret create openweathermap-api-key" in done.stdout
    assert "influxdb-password" not in done.stdout  # optional and absent: not created


@pytest.mark.parametrize("platform", ["faasd", "k3s"])
def test_secret_script_stops_with_a_clear_message_without_the_home_assistant_token(platform: str,
                                                                                   tmp_path: Path) -> None:
    done = run_script(platform, tmp_path / "secrets", tmp_path)
    assert done.returncode != 0 and "ha-token" in done.stderr


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==")
            found[name.lower()] = version
    return found


def test_connector_image_pins_the_same_versions_as_the_repository() -> None:
    ours = pins(REPO / "infra" / "connector" / "requirements.txt")
    assert set(ours) == {"aiohttp", "croniter", "pyyaml"}
    assert ours == {k: v for k, v in pins(REPO / "constraints.txt").items() if k in ours}


@pytest.mark.parametrize("dockerfile", ["infra/connector/Dockerfile", "gateway-bridge/Dockerfile"])
def test_dockerfile_copies_only_what_exists_and_runs_as_a_non_root_user(dockerfile: str) -> None:
    text = (REPO / dockerfile).read_text(encoding="utf-8")
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        sources = [s for s in line.split()[:-1] if not s.startswith("--")]
        assert all((REPO / s).exists() for s in sources), line
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert re.search(r"^FROM \S+:\S+", text, re.M)


def installed_closure(names: set[str]) -> set[str]:
    """The distributions `names` bring with them when pip installs them (their requirements, recursively)."""
    seen: set[str] = set()
    todo = [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # required only under another Python (an environment marker)
            continue
        seen.add(name)
        for requirement in requirements:
            if "extra ==" not in requirement:
                todo.append(canonical(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0]))
    return seen


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_connector_image_installs_every_distribution_the_connector_imports() -> None:
    """The image installs functions/common's and infra/connector's requirements: the connector's imports
    (ha_connector.service and everything it loads) must come from those or from what they depend on."""
    path = f"{REPO}/functions/common{os.pathsep}{REPO}/infra/connector"

    def loaded(imports: str) -> set[str]:
        done = subprocess.run([sys.executable, "-c", f"import sys{imports}; print(' '.join(sys.modules))"],
                              env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, check=True,
                              cwd="/", timeout=60)
        return {m.split(".")[0] for m in done.stdout.split()}

    top = loaded(", ha_connector.service") - loaded("") - {"ingestor", "ha_connector"}  # not what site.py loads itself
    owners = metadata.packages_distributions()
    needed = {canonical(d) for m in top for d in owners.get(m, [])}
    image = installed_closure(set(pins(REPO / "infra" / "connector" / "requirements.txt"))
                              | set(pins(REPO / "functions" / "common" / "requirements.txt")))
    assert needed and needed - image == set()

"""Every deployment file is checked offline: Kubernetes schemas (kubernetes-validate, strict), yamllint,
the Compose specification's JSON schema for faasd, and what the manifests promise operators.

compose_spec.json is the Compose specification's schema as the PyPI package docker-compose 1.29.2 ships it
(compose/config/compose_spec.json, Apache-2.0); no newer copy is published on PyPI or npm.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

REPO = Path(__file__).resolve().parents[2]
K3S = REPO / "infra" / "k3s"
FAASD = REPO / "infra" / "faasd"
KUBERNETES_VERSION = "1.30"  # k3s v1.30 and later
OUR_IMAGES = {"ha-ingestor/gateway-bridge", "ha-ingestor/topic-connector"}
STATEFUL = {"nats", "influxdb", "postgres", "minio", "gateway-bridge"}


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K3S / "kustomization.yaml").read_text(encoding="utf-8"))


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in kustomization()["resources"]:
        for doc in yaml.safe_load_all((K3S / name).read_text(encoding="utf-8")):
            if doc:
                found.append((f"{name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return found


def workloads() -> list[tuple[str, dict[str, Any]]]:
    return [(n, d) for n, d in documents() if d["kind"] in ("Deployment", "StatefulSet")]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_kustomization_lists_every_manifest_in_the_folder_and_each_exists() -> None:
    listed = kustomization()["resources"]
    assert all((K3S / name).is_file() for name in listed)
    manifests = {p.name for p in K3S.glob("*.yaml")} - {"kustomization.yaml"}
    assert manifests == set(listed)


@pytest.mark.parametrize("name,doc", documents(), ids=[n for n, _ in documents()])
def test_manifest_is_valid_kubernetes_strictly(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    _, doc = workloads()[0]
    broken = json.loads(json.dumps(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) is not installed")
def test_kustomize_build_renders_valid_resources_with_our_images_pinned() -> None:
    out = subprocess.run(["kubectl", "kustomize", str(K3S)], capture_output=True, text=True, check=True).stdout
    rendered = [d for d in yaml.safe_load_all(out) if d]
    assert len(rendered) == len(documents())
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    images = {c["image"] for d in rendered if d["kind"] in ("Deployment", "StatefulSet") for c in containers(d)}
    assert all(":" in image and not image.endswith(":latest") for image in images), images


def test_every_image_is_pinned_and_ours_are_set_by_the_kustomization() -> None:
    retagged = {i["name"]: i for i in kustomization()["images"]}
    assert set(retagged) == OUR_IMAGES and all(i["newTag"] != "latest" for i in retagged.values())
    for name, doc in workloads():
        for c in containers(doc):
            if c["image"] in OUR_IMAGES:
                continue
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", c["image"]) and not c["image"].endswith(":latest"), name


def test_every_container_has_requests_limits_probes_and_runs_as_non_root() -> None:
    for name, doc in workloads():
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0, name
        for c in containers(doc):
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) <= set(c["resources"]["limits"]), name
            assert "livenessProbe" in c and "readinessProbe" in c, name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name


def test_stateful_services_keep_their_data_on_persistent_volumes() -> None:
    sets = {doc["metadata"]["name"]: doc for _, doc in workloads() if doc["kind"] == "StatefulSet"}
    assert set(sets) == STATEFUL
    for name, doc in sets.items():
        claims = {t["metadata"]["name"] for t in doc["spec"]["volumeClaimTemplates"]}
        mounts = {m["name"] for c in containers(doc) for m in c.get("volumeMounts", [])}
        assert claims and claims <= mounts, name


def test_bridge_is_two_replicas_each_on_its_own_spool_volume_replaced_one_at_a_time_and_probed_on_health() -> None:
    bridge = next(d for _, d in workloads() if d["metadata"]["name"] == "gateway-bridge")
    assert bridge["kind"] == "StatefulSet" and bridge["spec"]["replicas"] == 2
    assert bridge["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    c = bridge["spec"]["template"]["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    (claim,) = bridge["spec"]["volumeClaimTemplates"]
    spool = next(m for m in c["volumeMounts"] if m["name"] == claim["metadata"]["name"])["mountPath"]
    assert {"name": "BRIDGE_SPOOL_DIR", "value": spool} in c["env"]
    replica = next(e for e in c["env"] if e["name"] == "BRIDGE_REPLICA")
    assert replica["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    service = next(d for _, d in documents() if d["kind"] == "Service" and d["metadata"]["name"] == "gateway-bridge")
    assert service["spec"]["clusterIP"] == "None" and bridge["spec"]["serviceName"] == "gateway-bridge"
    budget = next(d for _, d in documents() if d["kind"] == "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1


def test_connector_reads_the_gateway_basic_auth_and_the_connector_key_and_runs_cron_as_a_single_replica() -> None:
    connector = next(d for _, d in workloads() if d["metadata"]["name"] == "topic-connector")
    pod = connector["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    (mount,) = pod["containers"][0]["volumeMounts"]
    assert env["SECRETS_DIR"] == mount["mountPath"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert {source["secret"]["name"] for source in volume["projected"]["sources"]} == {"basic-auth", "connector-key"}
    assert env["CONNECTOR_CRON"] == "true" and connector["spec"]["replicas"] == 1
    assert connector["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_services_in_openfaas_match_the_urls_stack_yml_and_the_docs_use() -> None:
    services = {d["metadata"]["name"]: d for _, d in documents() if d["kind"] == "Service"}
    assert all(d["metadata"]["namespace"] == "openfaas" for d in services.values())
    ports = {name: {p["port"] for p in d["spec"]["ports"]} for name, d in services.items()}
    assert 4222 in ports["nats"] and 8086 in ports["influxdb"] and 9000 in ports["minio"] and 5432 in ports["postgres"]
    stack = (REPO / "stack.yml").read_text(encoding="utf-8")
    assert "nats://nats.openfaas:4222" in stack


def secret_refs() -> set[str]:
    """Every Kubernetes secret the manifests read (secretKeyRef or secret volume), but OpenFaaS's own."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                assert node["secretKeyRef"]["key"] == node["secretKeyRef"]["name"], "one key per secret, named alike"
                names.add(node["secretKeyRef"]["name"])
            if "secret" in node and isinstance(node["secret"], dict):  # a secret volume, or a projected one's source
                names.add(node["secret"].get("secretName") or node["secret"]["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, doc in documents():
        walk(doc)
    return names - {"basic-auth"}


def script_secrets(path: Path, variable: str) -> set[str]:
    """The secrets a platform's create-secrets.sh makes: the list in infra/secrets.sh, which every script sources."""
    assert 'source "$(dirname "$0")/../secrets.sh"' in path.read_text(encoding="utf-8"), path
    shared = path.parents[1] / "secrets.sh"
    match = re.search(rf'^{variable}="([^"]*)"', shared.read_text(encoding="utf-8"), re.M)
    assert match, f"{variable} in {shared}"
    return {entry.split(":")[0] for entry in match.group(1).split()}


def test_every_secret_the_k3s_manifests_read_is_created_by_the_script_and_named_in_the_readme() -> None:
    refs = secret_refs()
    assert refs == script_secrets(K3S / "create-secrets.sh", "SERVICE_SECRETS")
    readme = (K3S / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in refs)


def compose() -> dict[str, Any]:
    return yaml.safe_load((FAASD / "docker-compose.ha-ingestor.yaml").read_text(encoding="utf-8"))


def test_faasd_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((Path(__file__).parent / "compose_spec.json").read_text(encoding="utf-8"))
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft201909Validator(schema).iter_errors(compose())]
    assert errors == []


def test_faasd_services_do_not_clash_with_faasd_own_and_pin_their_images() -> None:
    services = compose()["services"]
    assert not set(services) & {"nats", "gateway", "prometheus", "queue-worker", "basic-auth-plugin"}
    assert {"ha-nats", "influxdb", "postgres", "minio", "gateway-bridge-1", "gateway-bridge-2",
            "topic-connector"} <= set(services)
    for name, service in services.items():
        assert ":" in service["image"] and not service["image"].endswith(":latest"), name
        assert service.get("user") not in (None, "0", "root"), name
        for volume in service.get("volumes", []):
            assert volume["type"] == "bind" and volume["source"].startswith("./"), (name, volume)


def test_faasd_services_use_the_jetstream_server_the_gateway_basic_auth_and_the_connector_key_files() -> None:
    services = compose()["services"]
    env = {name: dict(e.split("=", 1) for e in s.get("environment", [])) for name, s in services.items()}
    assert env["gateway-bridge-1"]["NATS_URL"] == env["gateway-bridge-2"]["NATS_URL"] == "nats://ha-nats:4222"
    assert env["topic-connector"]["NATS_URL"] == "nats://ha-nats:4222"
    bridge_dirs = {v["source"] for name in ("gateway-bridge-1", "gateway-bridge-2") for v in services[name]["volumes"]
                   if v["target"] == env[name]["BRIDGE_SPOOL_DIR"]}
    assert len(bridge_dirs) == 2, "each replica needs a spool of its own"
    targets = {v["target"] for v in services["topic-connector"]["volumes"]}
    secrets_dir = env["topic-connector"]["SECRETS_DIR"]
    assert {f"{secrets_dir}/{name}" for name in ("basic-auth-user", "basic-auth-password", "connector-key")} <= targets
    nats_conf = next(v["source"] for v in services["ha-nats"]["volumes"] if v["target"].endswith("nats.conf"))
    assert (FAASD / Path(nats_conf).name).is_file() and "jetstream" in (FAASD / "nats.conf").read_text()


def test_every_secret_file_the_faasd_services_mount_is_written_by_the_script() -> None:
    mounted = {Path(v["source"]).name for s in compose()["services"].values() for v in s.get("volumes", [])
               if v["source"].startswith("./secrets/")}
    assert mounted - {"basic-auth-user", "basic-auth-password"} == script_secrets(FAASD / "create-secrets.sh",
                                                                                  "SERVICE_SECRETS")


def yaml_files() -> list[Path]:
    return sorted([*(REPO / "infra").rglob("*.y*ml"), REPO / "stack.yml", REPO / ".yamllint.yaml"])


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_yaml_passes_yamllint_with_the_repository_config(path: Path) -> None:
    conf = YamlLintConfig(file=str(REPO / ".yamllint.yaml"))
    problems = [f"{p.line}:{p.column} {p.message}"
                for p in linter.run(path.read_text(encoding="utf-8"), conf, str(path)) if p.level == "error"]
    assert problems == []


OPTIONAL_CRON = K3S / "optional" / "cron-connector.yaml"


def test_the_optional_cron_connector_is_valid_kubernetes_strictly_and_pinned() -> None:
    (doc,) = yaml.safe_load_all(OPTIONAL_CRON.read_text(encoding="utf-8"))
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    pod = doc["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and doc["spec"]["replicas"] == 1
    images = {c["name"]: c["image"] for c in pod["containers"]}
    assert re.fullmatch(r"ghcr\.io/openfaas/cron-connector:\d+\.\d+\.\d+", images["cron-connector"])
    assert images["cron-signer"] in OUR_IMAGES


def test_the_optional_cron_connector_calls_only_its_signer_which_alone_holds_the_connector_key() -> None:
    (doc,) = yaml.safe_load_all(OPTIONAL_CRON.read_text(encoding="utf-8"))
    pod = doc["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in pod["containers"]}
    cron_env = {e["name"]: e["value"] for e in by_name["cron-connector"]["env"]}
    signer_env = {e["name"]: e["value"] for e in by_name["cron-signer"]["env"]}
    assert cron_env["gateway_url"] == f"http://127.0.0.1:{signer_env['CRON_SIGNER_PORT']}"
    assert signer_env["CRON_SIGNER_HOST"] == "127.0.0.1"
    assert by_name["cron-signer"]["command"][-1] == "ha_connector.cronsigner"
    volumes = {v["name"]: v for v in pod["volumes"]}

    def secrets_of(container: str) -> set[str]:
        (mount,) = by_name[container]["volumeMounts"]
        volume = volumes[mount["name"]]
        if "secret" in volume:
            return {volume["secret"]["secretName"]}
        return {source["secret"]["name"] for source in volume["projected"]["sources"]}

    assert secrets_of("cron-connector") == {"basic-auth"}
    assert secrets_of("cron-signer") == {"basic-auth", "connector-key"}

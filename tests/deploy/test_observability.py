"""The scrape configs and the pipeline dashboard against what the processes really export.

A real local runtime (real nats-server, function processes, gateway with the topic and cron connectors)
and a real gateway-bridge process are scraped at the paths the Prometheus configs compute; every metric
the Grafana pipeline dashboard queries must be among what they export.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ingestor import subjects
from localfaas import ports, procs
from localfaas.natsserver import free_port
from tests.support import ha_events
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime

OBSERVABILITY = REPO / "infra" / "observability"
STACK = Path(__file__).parent / "stack.deploy.yml"
LOCAL_GATEWAY = "127.0.0.1:8080"
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def config(name: str) -> dict[str, Any]:
    return yaml.safe_load((OBSERVABILITY / f"prometheus-{name}.yml").read_text(encoding="utf-8"))


def stack_functions() -> set[str]:
    return set(yaml.safe_load((REPO / "stack.yml").read_text(encoding="utf-8"))["functions"])


def relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus' relabelling for the actions these configs use (replace, keep); None when dropped."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(s, "") for s in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                template = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", rule.get("replacement", "$1"))
                labels[rule["target_label"]] = match.expand(template)
        else:
            raise AssertionError(f"relabel action {action} not modelled")
    return labels


def static_targets(job: dict[str, Any]) -> list[dict[str, str]]:
    """Each static target's final labels: __address__ and __metrics_path__ included."""
    found = []
    for group in job.get("static_configs", []):
        for address in group["targets"]:
            labels = {"__address__": address, "__metrics_path__": job.get("metrics_path", "/metrics"),
                      "job": job["job_name"], **group.get("labels", {})}
            final = relabel(labels, job.get("relabel_configs", []))
            if final is not None:
                found.append(final)
    return found


@pytest.mark.parametrize("name", ["k3s", "faasd", "local"])
def test_scrape_config_is_well_formed(name: str) -> None:
    jobs = config(name)["scrape_configs"]
    names = [j["job_name"] for j in jobs]
    assert len(names) == len(set(names))
    for job in jobs:
        assert job.get("static_configs") or job.get("kubernetes_sd_configs"), job["job_name"]
        for rule in job.get("relabel_configs", []):
            re.compile(rule.get("regex", "(.*)"))
            assert rule.get("action", "replace") in ("replace", "keep")


@pytest.mark.parametrize("name", ["faasd", "local"])
def test_static_configs_scrape_every_function_of_the_stack_through_the_gateway(name: str) -> None:
    job = next(j for j in config(name)["scrape_configs"] if j["job_name"] == "ha-ingestor-functions")
    targets = static_targets(job)
    assert {t["function"] for t in targets} == stack_functions()
    assert all(t["__metrics_path__"] == f"/function/{t['function']}/_/metrics" for t in targets)


def test_k3s_config_discovers_function_pods_and_the_annotated_services() -> None:
    jobs = {j["job_name"]: j for j in config("k3s")["scrape_configs"]}
    functions = jobs["ha-ingestor-functions"]
    assert functions["metrics_path"] == "/_/metrics"
    assert functions["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["openfaas-fn"]
    pod = {"__address__": "10.42.0.7:8080", "__meta_kubernetes_pod_label_faas_function": "write",
           "__meta_kubernetes_pod_ip": "10.42.0.7", "__meta_kubernetes_pod_name": "write-5d9c"}
    assert relabel(pod, functions["relabel_configs"])["function"] == "write"
    assert relabel({"__meta_kubernetes_pod_ip": "10.42.0.8"}, functions["relabel_configs"]) is None
    manifests = [d for p in (REPO / "infra" / "k3s").glob("*.yaml")
                 for d in yaml.safe_load_all(p.read_text(encoding="utf-8"))
                 if d and d["kind"] in ("Deployment", "StatefulSet")
                 and d["metadata"]["name"] in ("gateway-bridge", "topic-connector")]
    assert len(manifests) == 2
    services = jobs["ha-ingestor-services"]
    for deployment in manifests:  # the bridge and the connector are scraped where they serve /metrics
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        meta = {f"__meta_kubernetes_pod_annotation_{k.replace('.', '_').replace('/', '_')}": v
                for k, v in annotations.items()}
        labels = relabel({**meta, "__meta_kubernetes_pod_ip": "10.42.0.9", "__metrics_path__": "/metrics",
                          "__meta_kubernetes_pod_label_app_kubernetes_io_name": deployment["metadata"]["name"]},
                         services["relabel_configs"])
        ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]}
        assert labels is not None and labels["__metrics_path__"] == "/metrics"
        assert int(labels["__address__"].split(":")[1]) in ports


def dashboard_metrics() -> set[str]:
    board = json.loads((OBSERVABILITY / "grafana-pipeline.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    return {m for e in exprs for m in re.findall(r"\bha_ingestor_[a-z0-9_]+", e)}


def test_pipeline_dashboard_is_importable_and_queries_only_our_metrics() -> None:
    board = json.loads((OBSERVABILITY / "grafana-pipeline.json").read_text(encoding="utf-8"))
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for p in board["panels"]:
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
            names = re.findall(r"\b[a-z_]+_(?:total|seconds|bucket|depth|bytes|up|connected|paused)\b", t["expr"])
            assert all(n.startswith("ha_ingestor_") for n in names), t["expr"]
    assert len(dashboard_metrics()) >= 20


def exported(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    with LocalRuntime(tmp_path_factory.mktemp("observability"), stack=STACK) as rt:
        yield rt


@pytest.fixture(scope="module")
def bridge_metrics(runtime: LocalRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real gateway-bridge whose Home Assistant is unreachable: it keeps retrying and serves /metrics."""
    workdir = tmp_path_factory.mktemp("bridge")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "ha-token").write_text("not-a-real-token")
    reserved = ports.reserve()  # the bridge's health port, held while the bridge may bind it
    port = reserved.port
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("functions/common", "gateway-bridge")),
           "HA_URL": f"http://127.0.0.1:{free_port()}", "NATS_URL": runtime.nats_url,
           "SECRETS_DIR": str(workdir / "secrets"), "BRIDGE_SPOOL_DIR": str(workdir / "spool"),
           "BRIDGE_HEALTH_HOST": "127.0.0.1", "BRIDGE_HEALTH_PORT": str(port)}
    with open(workdir / "bridge.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ha_bridge"], cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        def up() -> str | None:
            try:
                return scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return None
        text = wait_for(up, 60, interval=0.3)
        assert text, (workdir / "bridge.log").read_text()[-3000:]
        yield text
    finally:
        procs.stop(proc, grace=30)
        reserved.release()


@pytest.mark.integration
def test_local_scrape_config_paths_answer_and_export_every_metric_the_pipeline_dashboard_uses(
        runtime: LocalRuntime, bridge_metrics: str) -> None:
    js = JetStreamClient(runtime.nats_url)
    try:
        js.publish_batch(subjects.RAW, "observability-batch-1", ha_events.many(5))
        assert wait_for(lambda: js.events(subjects.ENRICHED), 60), "the batch did not reach ha.events.enriched"
    finally:
        js.close()
    gateway = runtime.gateway.removeprefix("http://")
    assert wait_for(lambda: sample(runtime.gateway + "/metrics", "ha_ingestor_connector_messages_total",
                                   function="write", topic=subjects.ENRICHED, outcome="acked") >= 1, 60)
    names = exported(bridge_metrics)
    scraped = []
    for job in config("local")["scrape_configs"]:
        if job["job_name"] == "gateway-bridge":
            continue  # scraped above, on the port this test gave it
        for target in static_targets(job):
            if "function" in target and target["function"] not in runtime.ready["functions"]:
                continue  # not in this test's stack; the path is the same shape for every function
            assert target["__address__"] == LOCAL_GATEWAY
            names |= exported(scrape(f"http://{gateway}{target['__metrics_path__']}"))
            scraped.append(target["__metrics_path__"])
    assert "/metrics" in scraped and "/function/write/_/metrics" in scraped
    missing = {m for m in dashboard_metrics()
               if m not in names and not any(m.endswith(s) and m.removesuffix(s) in names for s in SUFFIXES)}
    assert missing == set()
    assert {"ha_ingestor_store_events_written_total", "ha_ingestor_function_requests_total"} <= names

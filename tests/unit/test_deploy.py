"""Every file in deploy/ parsed and checked against the code, since no
container engine or cluster runs here: services and their wiring in the
compose file, the Dockerfile's entrypoint, user and volume, Prometheus
targets, the Grafana dashboard's metric names, and the Kubernetes manifests'
topics (names, partitions, retention, compaction) against streams.topics."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

import streams
from streams.core.model import Status, is_final_everywhere
from streams.ops import manifests
from streams.settings import SETTINGS
from streams.topics import APP_ID, DAY_MS, specs

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
ENV_NAMES = {s.env for s in SETTINGS.values()}
DEFAULT_PARTITIONS = int(SETTINGS["partitions"].default)

# The worker's Prometheus metrics the dashboard may use, with their labels: the
# exporter's names (streams/worker/metrics.py and the scrape-time gauges of
# the web views, streams/worker/webhooks/__init__.py).
METRICS: dict[str, set[str]] = {
    "dlr_receipts_in_total": {"provider"},
    "dlr_normalized_total": {"provider"},
    "dlr_dead_lettered_total": {"stage", "provider"},
    "dlr_status_changes_total": {"status"},
    "dlr_error_categories_total": {"category", "provider"},
    "dlr_receipt_warnings_total": {"field", "provider"},
    "dlr_consumer_lag": {"topic", "partition"},
    "dlr_webhook_requests_total": {"provider", "code"},
    "dlr_webhook_request_seconds_bucket": {"provider", "le"},
    "dlr_ready": set(),
    "dlr_fold_lag_records": {"partition"},
    "dlr_table_recovering": set(),
    "dlr_table_recovery_remaining": {"table", "partition", "role"},
}
# Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = {"instance", "job"}
# Agreed with the exporter but not served by it yet: their panels stay empty
# until it is. When the code starts naming one, the test below says to drop it.
NOT_YET_EXPORTED: set[str] = set()
WORKERS = ("worker-1", "worker-2")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")


# --- parsing -----------------------------------------------------------------


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        instruction, _, args = full.partition(" ")
        out.append((instruction.upper(), args.strip()))
    assert not pending, "dangling line continuation"
    return out


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


PARSERS = {
    ".yml": load_yaml,
    ".yaml": load_yaml,
    ".json": lambda p: json.loads(p.read_text()),
    "Dockerfile": dockerfile,
    ".dockerignore": lambda p: p.read_text().splitlines(),
}


def parser_for(path: Path) -> Any:
    return PARSERS.get(path.name) or PARSERS.get(path.suffix)


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", deploy_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_file_parses(path: Path) -> None:
    parse = parser_for(path)
    assert parse is not None, f"{path.relative_to(ROOT)}: no check knows this kind of file; add one"
    assert parse(path)


def compose() -> dict[str, Any]:
    (doc,) = load_yaml(DEPLOY / "docker-compose.yml")
    assert isinstance(doc, dict)
    return doc


def k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in load_yaml(path)]


def k8s(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_docs() if doc["kind"] == kind]


def one(kind: str) -> dict[str, Any]:
    (doc,) = k8s(kind)
    return doc


# --- Dockerfile --------------------------------------------------------------


def test_dockerfile_runs_dlr_worker_as_non_root_with_state_on_a_volume() -> None:
    steps = dockerfile(DEPLOY / "Dockerfile")
    instructions = [i for i, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    (entry,) = [a for i, a in steps if i == "ENTRYPOINT"]
    assert exec_form(entry) == ["dlr", "worker"]
    assert "CMD" not in instructions  # arguments after the image go to `dlr worker`

    env: dict[str, str] = {}
    for instruction, args in steps:
        if instruction == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(args)))
    assert set(env) & ENV_NAMES == {"DLR_DATA_DIR", "DLR_WEB_HOST", "DLR_WEB_PORT"}
    assert env["DLR_WEB_HOST"] == "0.0.0.0"  # reachable from outside the container

    (volume,) = [a for i, a in steps if i == "VOLUME"]
    assert exec_form(volume) == [env["DLR_DATA_DIR"]]
    (expose,) = [a for i, a in steps if i == "EXPOSE"]
    assert expose.split() == [env["DLR_WEB_PORT"]]

    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert instructions.index("USER") > max(n for n, i in enumerate(instructions) if i == "RUN")
    uid = users[-1].split(":")[0]
    assert any(f"--uid {uid}" in a for i, a in steps if i == "RUN")

    installs = [a for i, a in steps if i == "RUN" and "pip install" in a]
    assert installs and '".[registry]"' in installs[0]  # the registry client's dependencies too

    (health,) = [a for i, a in steps if i == "HEALTHCHECK"]
    assert f"127.0.0.1:{env['DLR_WEB_PORT']}/health" in health


def test_dockerfile_copies_what_the_build_needs_and_the_ignore_file_keeps_it() -> None:
    steps = dockerfile(DEPLOY / "Dockerfile")
    sources = [src for i, a in steps if i == "COPY" for src in a.split()[:-1] if not src.startswith("--")]
    for src in sources:
        assert (ROOT / src).exists(), src
    for needed in ("pyproject.toml", "README.md", "schemas", "streams"):  # hatch: readme, force-include, package
        assert needed in sources
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore  # everything else stays out of the image
    assert set(sources) <= kept


# --- compose -----------------------------------------------------------------


def service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_compose_has_kraft_kafka_registry_two_workers_prometheus_grafana() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "kafka-init", "schema-registry", *WORKERS, "prometheus", "grafana"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = service_env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}  # KRaft, no ZooKeeper
    assert not any("ZOOKEEPER" in key for key in env)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    registry = services["schema-registry"]
    assert registry["image"].startswith("confluentinc/cp-schema-registry:")
    store = service_env(registry)["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]
    assert store.split("://")[-1] in kafka_internal_addresses()


def kafka_internal_addresses() -> set[str]:
    env = service_env(compose()["services"]["kafka"])
    return {item.split("://")[1] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
            if item.split("://")[1].split(":")[0] == "kafka"}


@pytest.mark.parametrize("name", WORKERS)
def test_compose_workers(name: str) -> None:
    doc = compose()
    services = doc["services"]
    worker = services[name]
    build = worker["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    assert worker["image"].endswith(f":{streams.__version__}")
    env = service_env(worker)
    assert set(env) <= ENV_NAMES, f"not settings: {set(env) - ENV_NAMES}"
    assert env["DLR_BROKER"] in kafka_internal_addresses()
    registry_url = urlsplit(env["DLR_SCHEMA_REGISTRY_URL"])
    assert registry_url.hostname == "schema-registry"
    assert urlsplit(service_env(services["schema-registry"])["SCHEMA_REGISTRY_LISTENERS"]).port == registry_url.port
    assert env["DLR_PARTITIONS"] == SETTINGS["partitions"].default
    assert env["DLR_WEB_HOST"] == "0.0.0.0"
    assert [p.split(":")[-1] for p in worker["ports"]] == [env["DLR_WEB_PORT"]]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in worker["volumes"]}
    assert mounts[env["DLR_DATA_DIR"]] in doc["volumes"]  # a named volume per worker
    assert worker["depends_on"] == {"kafka-init": {"condition": "service_completed_successfully"},
                                    "schema-registry": {"condition": "service_healthy"}}


def test_compose_creates_the_topic_workers_do_not() -> None:
    init = compose()["services"]["kafka-init"]
    command = init["entrypoint"]
    assert command[0].endswith("/kafka-topics.sh") and "--create" in command
    assert command[command.index("--bootstrap-server") + 1] in kafka_internal_addresses()
    assert command[command.index("--topic") + 1] == manifests.FAUST_LEADER_TOPIC
    assert command[command.index("--partitions") + 1] == "1"
    assert init["image"] == compose()["services"]["kafka"]["image"]


def test_compose_workers_do_not_share_state_or_host_ports() -> None:
    services = compose()["services"]
    volumes = [v.split(":")[0] for w in WORKERS for v in services[w]["volumes"]]
    ports = [p.split(":")[0] for w in WORKERS for p in services[w]["ports"]]
    assert len(set(volumes)) == len(volumes) and len(set(ports)) == len(ports)


def mounted(service: dict[str, Any], target: str) -> Path:
    for volume in service["volumes"]:
        source, dest = volume.split(":")[:2]
        if dest == target:
            return (DEPLOY / source).resolve()
    raise AssertionError(f"nothing mounted at {target}")


def test_prometheus_scrapes_every_worker() -> None:
    services = compose()["services"]
    config_path = mounted(services["prometheus"], "/etc/prometheus/prometheus.yml")
    assert config_path == (DEPLOY / "prometheus.yml").resolve()
    (config,) = load_yaml(config_path)
    (job,) = config["scrape_configs"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{w}:{service_env(services[w])['DLR_WEB_PORT']}" for w in WORKERS}


def test_grafana_provisions_the_datasource_and_the_dashboard() -> None:
    services = compose()["services"]
    grafana = services["grafana"]
    provisioning = mounted(grafana, "/etc/grafana/provisioning")
    (datasources,) = load_yaml(provisioning / "datasources" / "prometheus.yml")
    (source,) = datasources["datasources"]
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus" and [f"{url.port}:{url.port}"] == services["prometheus"]["ports"]
    (providers,) = load_yaml(provisioning / "dashboards" / "dlr-streams.yml")
    (provider,) = providers["providers"]
    target = f"{provider['options']['path']}/dlr-streams.json"
    assert mounted(grafana, target) == (DEPLOY / "grafana" / "dlr-streams.json").resolve()
    assert dashboard_datasource_uids() == {source["uid"]}


# --- Grafana dashboard -------------------------------------------------------


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dlr-streams.json").read_text())  # type: ignore[no-any-return]


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def queries() -> list[str]:
    exprs = [t["expr"] for p in panels() for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    return exprs


def dashboard_datasource_uids() -> set[str]:
    found = {p["datasource"]["uid"] for p in panels()}
    found |= {t["datasource"]["uid"] for p in panels() for t in p["targets"]}
    found |= {v["datasource"]["uid"] for v in dashboard()["templating"]["list"]}
    return found


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bdlr_[a-z0-9_]+\b", expr))


def exported_names() -> set[str]:
    """Every metric name the code writes: `"dlr_..."` string literals in streams/,
    and the samples of the histogram families among them."""
    found: set[str] = set()
    for path in (ROOT / "streams").rglob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r"[\"'](dlr_[a-z0-9_]+)[\"']", text))
        # a histogram family (prometheus_client) writes its _bucket, _sum and _count samples
        for name in re.findall(r"HistogramMetricFamily\(\s*[\"'](dlr_[a-z0-9_]+)[\"']", text):
            found |= {name + "_bucket", name + "_sum", name + "_count"}
    return found


def test_dashboard_uses_only_the_exporters_metrics() -> None:
    used = set().union(*map(metric_names, queries()))
    assert used <= METRICS.keys(), f"unknown metrics: {used - METRICS.keys()}"
    exported = exported_names()
    assert used - NOT_YET_EXPORTED <= exported, f"not exported: {used - NOT_YET_EXPORTED - exported}"
    now_exported = {name for name in NOT_YET_EXPORTED if name in exported or name + "_total" in exported}
    assert not now_exported, f"exported now: remove {now_exported} from NOT_YET_EXPORTED"
    for expr in queries():
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr


def label_names(expr: str) -> set[str]:
    """Labels an expression selects on or groups by: `{name="..."}`, `by (a, b)`,
    `label_values(metric, name)`."""
    found = {name for selector in re.findall(r"\{([^}]*)\}", expr)
             for name in re.findall(r"([a-z_][a-z0-9_]*)\s*(?:=~|!~|!=|=)", selector)}
    found |= {name.strip() for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
              for name in group.split(",") if name.strip()}
    found |= set(re.findall(r"label_values\(\s*dlr_[a-z0-9_]+\s*,\s*([a-z_][a-z0-9_]*)\s*\)", expr))
    return found


def test_dashboard_uses_only_labels_the_exporter_writes() -> None:
    assert label_names('sum by (a, b) (rate(x{c="1",d=~"2|3"}[5m]))') == {"a", "b", "c", "d"}
    for expr in queries():
        known = set().union(TARGET_LABELS, *(METRICS[name] for name in metric_names(expr)))
        assert label_names(expr) <= known, f"{expr}: unknown labels {label_names(expr) - known}"


def test_dashboard_has_the_operators_panels() -> None:
    by_title = {p["title"]: p for p in panels()}
    wanted = {
        "Delivery rate per provider": "dlr_normalized_total",
        "Final status mix": "dlr_status_changes_total",
        "Error categories": "dlr_error_categories_total",
        "Dead-letter rate": "dlr_dead_lettered_total",
        "Consumer lag by topic": "dlr_consumer_lag",
        "Table recovery remaining": "dlr_table_recovery_remaining",
        "Workers recovering": "dlr_table_recovering",
    }
    for title, metric in wanted.items():
        assert title in by_title, title
        assert any(metric in t["expr"] for t in by_title[title]["targets"]), title
    assert len({p["id"] for p in dashboard()["panels"]}) == len(dashboard()["panels"])
    assert dashboard()["uid"] == "dlr-streams"


def test_final_status_mix_counts_exactly_the_final_statuses() -> None:
    (mix,) = [p for p in panels() if p["title"] == "Final status mix"]
    (match,) = re.findall(r'status=~"([^"]+)"', mix["targets"][0]["expr"])
    assert set(match.split("|")) == {s.value for s in Status if is_final_everywhere(s)}


# --- Kubernetes --------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    (namespace,) = k8s("Namespace")
    assert kustomization["namespace"] == namespace["metadata"]["name"]


def test_topics_yaml_is_rendered_from_the_code() -> None:
    assert (K8S / "topics.yaml").read_text() == manifests.render_topics(), (
        "deploy/k8s/topics.yaml is stale: python -m streams.ops.manifests > deploy/k8s/topics.yaml")
    assert manifests.main(["--check", str(K8S / "topics.yaml")]) == 0
    assert load_yaml(K8S / "topics.yaml") == manifests.kafka_topics()


def test_every_topic_has_a_kafka_topic_with_its_settings() -> None:
    topics = {t["spec"]["topicName"]: t for t in k8s("KafkaTopic")}
    assert set(topics) == {s.name for s in specs()} | {manifests.FAUST_LEADER_TOPIC}
    cluster = one("Kafka")["metadata"]["name"]
    for spec in specs():
        topic = topics[spec.name]
        assert DNS_SUBDOMAIN.fullmatch(topic["metadata"]["name"]), topic["metadata"]["name"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert topic["spec"]["partitions"] == DEFAULT_PARTITIONS
        config = topic["spec"]["config"]
        assert {k: config[k] for k in spec.config()} == spec.config()
        assert int(config["min.insync.replicas"]) < topic["spec"]["replicas"]
    changelog = next(s for s in specs() if s.record == "MessageState")
    assert topics[changelog.name]["spec"]["config"]["cleanup.policy"] == "compact"
    raw = [int(topics[s.name]["spec"]["config"]["retention.ms"]) for s in specs() if s.record == "RawReceipt"]
    others = [int(topics[s.name]["spec"]["config"]["retention.ms"]) for s in specs()
              if s.record != "RawReceipt" and not s.compacted]
    assert raw and min(raw) >= max(others)  # the source of truth is kept longest


def test_kafka_cluster_is_kraft_without_auto_creation() -> None:
    kafka = one("Kafka")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert "zookeeper" not in kafka["spec"]
    (pool,) = k8s("KafkaNodePool")
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert all(t["spec"]["replicas"] <= pool["spec"]["replicas"] for t in k8s("KafkaTopic"))
    assert "topicOperator" in kafka["spec"]["entityOperator"]


def test_kafka_user_may_use_every_topic_and_the_group() -> None:
    user = one("KafkaUser")
    acls = user["spec"]["authorization"]["acls"]

    def allowed(kind: str, name: str, operation: str) -> bool:
        for acl in acls:
            resource = acl["resource"]
            if resource["type"] != kind or operation not in acl["operations"]:
                continue
            if resource.get("patternType", "literal") == "prefix" and name.startswith(resource["name"]):
                return True
            if resource.get("name") == name:
                return True
        return False

    for topic in [s.name for s in specs()] + [manifests.FAUST_LEADER_TOPIC]:
        for operation in ("Describe", "Read", "Write"):
            assert allowed("topic", topic, operation), (topic, operation)
    assert allowed("group", APP_ID, "Read")


def worker_parts() -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    statefulset = one("StatefulSet")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    config = {cm["metadata"]["name"]: cm for cm in k8s("ConfigMap")}
    (ref,) = [e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e]
    return statefulset, container, {k: str(v) for k, v in config[ref]["data"].items()}


def test_worker_statefulset_keeps_state_on_a_volume() -> None:
    statefulset, container, env = worker_parts()
    assert container["image"] == f"dlr-streams:{streams.__version__}"
    assert set(env) <= ENV_NAMES, f"not settings: {set(env) - ENV_NAMES}"
    explicit = {e["name"] for e in container.get("env", [])}
    assert explicit <= ENV_NAMES
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == env["DLR_DATA_DIR"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert env["DLR_PARTITIONS"] == SETTINGS["partitions"].default
    assert 1 <= statefulset["spec"]["replicas"] <= DEFAULT_PARTITIONS
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    uid = [a for i, a in dockerfile(DEPLOY / "Dockerfile") if i == "USER"][-1].split(":")[0]
    assert str(pod["securityContext"]["runAsUser"]) == uid


def test_worker_probes_ports_and_scrape_annotations() -> None:
    statefulset, container, env = worker_parts()
    assert env["DLR_WEB_HOST"] == "0.0.0.0"
    (port,) = container["ports"]
    assert str(port["containerPort"]) == env["DLR_WEB_PORT"]
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == "/health" and probe["port"] in (port["name"], port["containerPort"])
    annotations = statefulset["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == env["DLR_WEB_PORT"]
    assert annotations["prometheus.io/path"] == "/metrics"
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    services = {s["metadata"]["name"]: s for s in k8s("Service")}
    headless = services[statefulset["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    for service in services.values():
        assert service["spec"]["selector"].items() <= labels.items()
        assert all(p["targetPort"] in (port["name"], port["containerPort"]) for p in service["spec"]["ports"])


def test_worker_reaches_kafka_with_the_strimzi_user_and_ca() -> None:
    statefulset, container, env = worker_parts()
    kafka = one("Kafka")
    cluster = kafka["metadata"]["name"]
    user = one("KafkaUser")["metadata"]["name"]
    (listener,) = [lst for lst in kafka["spec"]["kafka"]["listeners"] if lst["type"] == "internal"]
    assert env["DLR_BROKER"] == f"{cluster}-kafka-bootstrap:{listener['port']}"
    assert env["DLR_SECURITY_PROTOCOL"] == ("SASL_SSL" if listener["tls"] else "SASL_PLAINTEXT")
    assert env["DLR_SASL_MECHANISM"].lower() == listener["authentication"]["type"]
    assert env["DLR_SASL_USERNAME"] == user
    (password,) = [e for e in container["env"] if e["name"] == "DLR_SASL_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}  # Strimzi's user Secret
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    ca_dir, _, ca_file = env["DLR_SSL_CAFILE"].rpartition("/")
    secret = volumes[mounts[ca_dir]]["secret"]
    assert secret["secretName"] == f"{cluster}-cluster-ca-cert"
    assert {"key": "ca.crt", "path": ca_file} in secret["items"]
    secrets = {s["metadata"]["name"] for s in k8s("Secret")}
    assert {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e} <= secrets
    for secret_doc in k8s("Secret"):
        assert set(secret_doc.get("stringData", {})) <= {s.env for s in SETTINGS.values() if s.secret}


def test_no_secret_in_a_config_map() -> None:
    _, _, env = worker_parts()
    assert not {s.env for s in SETTINGS.values() if s.secret} & set(env)


# --- the operators' page -------------------------------------------------------


def test_operators_page_lists_every_topic_with_its_key_retention_and_cleanup() -> None:
    rows = [line for line in (ROOT / "docs" / "operators.md").read_text().splitlines() if line.startswith("| `")]
    for spec in specs():
        name = "dlr.raw.<provider>" if spec.record == "RawReceipt" else spec.name
        (row,) = [r for r in rows if r.startswith(f"| `{name}`")]
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        retention = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // DAY_MS} days"
        assert cells[-2:] == [retention, spec.config()["cleanup.policy"]], row
        assert f"`{spec.record}`" in cells[1], row
        if spec.record == "RawReceipt":
            assert spec.name.removeprefix("dlr.raw.") in cells[0], row
    (leader,) = [r for r in rows if r.startswith(f"| `{manifests.FAUST_LEADER_TOPIC}`")]
    assert leader.rstrip(" |").endswith("| 1 day | delete")

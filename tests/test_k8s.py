"""deploy/k8s, validated offline: what `kubectl apply -k` would send, checked before any cluster sees it.

For each overlay (dev, prod), rendered by `kubectl kustomize`:
- the core kinds pass `kubernetes-validate --strict` (schemas shipped in the PyPI package);
- the custom resources (Strimzi, CloudNativePG, Prometheus Operator) match the CRD schemas kept in
  deploy/k8s/crd-schemas, strictly: an unknown field fails, as the API server's strict field validation would;
- every workload has probes, resources, a restricted security context; no Secret is inlined;
- every env var a service gets is a setting its `Settings` class reads (with a value it accepts), and
  every setting it needs is set;
- every service is scraped by a ServiceMonitor, the alert rules are a PrometheusRule, the Grafana
  dashboards are ConfigMaps the sidecar loads;
- the topics are those of `contracts.topics`, their replication fits the brokers, the autoscalers stay
  within the partitions, each service has its own database and role, the connections fit PostgreSQL;
- Kafka takes only TLS clients authenticated with SCRAM, and each service is its own KafkaUser whose
  ACLs let it write only its own topic and the dead letters and read exactly what its reactions consume.

tests/fixtures/k8s/broken is the dev overlay with deliberate mistakes (a misspelt field, a missing
probe, a misspelt CRD field, an unknown env var, an inlined secret, a ServiceMonitor on no port, a Kafka
user allowed to write another service's topic): the same checks must catch each.
"""

from __future__ import annotations

import functools
import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from contracts import topics

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
CRD_SCHEMAS = K8S / "crd-schemas"
BROKEN = ROOT / "tests" / "fixtures" / "k8s" / "broken"
OVERLAYS = ("dev", "prod")
#: The oldest Kubernetes the manifests are meant for (docs/DEPLOY.md).
KUBERNETES_VERSION = "1.30.0"

#: service (Deployment name, console script, topic producer) -> Python package
SERVICES = {
    "onboarding": "onboarding",
    "sim-logistics": "sim_logistics",
    "ism-provisioning": "ism_provisioning",
    "support": "support",
    "notifier": "notifier",
    "web": "web",
}
#: Needed in any real deployment whatever their defaults say (the defaults are the embedded dev stack's).
REQUIRED_EVERYWHERE = {
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "AUTH_SECRET",
    "LINK_SIGNING_SECRET",
    "HTTP_HOST",
    "HTTP_PORT",
    "PUBLIC_BASE_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "KAFKA_IDEMPOTENCE",
    "KAFKA_CREATE_TOPICS",
    # The brokers take only authenticated TLS clients (kafka_security_problems checks the values).
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
}
REQUIRED_BY_SERVICE = {
    "notifier": {
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_PASSWORD",
        "MAIL_FROM",
        "SALES_ADMIN_EMAIL",
        "SUPPORT_EMAIL",
        "OPS_EMAIL",
    },
    "ism-provisioning": {"ISM_PLATFORM_BASE_URL"},
    "web": {"ONBOARDING_URL", "SIM_LOGISTICS_URL", "ISM_PROVISIONING_URL", "SUPPORT_URL", "NOTIFIER_URL"},
}
#: A default containing one of these is a dev default: a deployment must set the setting.
DEV_DEFAULT_MARKERS = ("127.0.0.1", "localhost", "dev-only", ".example", ".invalid")
HTTP_PORT = 8080


# --- rendering ---------------------------------------------------------------------------------------


@functools.cache
def render(path: Path) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is needed to render deploy/k8s")
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def overlay(name: str) -> tuple[dict[str, Any], ...]:
    return render(K8S / "overlays" / name)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any] | None:
    return next((d for d in of_kind(docs, kind) if d["metadata"]["name"] == name), None)


def where(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def is_custom(doc: dict[str, Any]) -> bool:
    group = str(doc["apiVersion"]).split("/")[0]
    return group.endswith((".strimzi.io", ".cnpg.io", ".coreos.com"))


# --- core kinds: kubernetes-validate -------------------------------------------------------------------


def core_kind_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    problems = []
    for doc in docs:
        if is_custom(doc):
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            problems.append(f"{where(doc)}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append(f"{where(doc)}: {e.message}")
    return problems


# --- custom resources: the CRD schemas of the repo -----------------------------------------------------


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An openAPIV3Schema as the API server applies it with strict field validation, as JSON Schema."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return {k: v for k, v in schema.items() if not k.startswith("x-kubernetes")}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes"):
            continue
        if key == "properties":
            out[key] = {name: strict_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = strict_json_schema(value)
        elif key == "anyOf":
            out[key] = [strict_json_schema(sub) for sub in value]
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    if "properties" in schema and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> validator, from deploy/k8s/crd-schemas."""
    validators = {}
    for path in sorted(CRD_SCHEMAS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict_json_schema(version["schema"]["openAPIV3Schema"])
            jsonschema.Draft7Validator.check_schema(schema)
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def custom_resource_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    problems = []
    for doc in docs:
        if not is_custom(doc):
            continue
        validator = crd_validators().get((doc["apiVersion"], doc["kind"]))
        if validator is None:
            problems.append(f"{where(doc)}: no CRD schema for {doc['apiVersion']} in {CRD_SCHEMAS}")
            continue
        for error in validator.iter_errors(doc):
            path = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{where(doc)}: {path}: {error.message}")
    return problems


# --- workloads: probes, resources, security ------------------------------------------------------------


def pod_specs(docs: tuple[dict[str, Any], ...]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def workload_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    problems = []
    for doc, pod in pod_specs(docs):
        pod_security = pod.get("securityContext", {})
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(f"{where(doc)}: shares a host namespace")
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where(doc)}: pod seccompProfile is not RuntimeDefault")
        init = [(c, True) for c in pod.get("initContainers", [])]
        for container, is_init in [*init, *((c, False) for c in pod["containers"])]:
            at = f"{where(doc)} container {container['name']}"
            if not is_init:
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in container:
                        problems.append(f"{at}: no {probe}")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(f"{at}: no {resource} in resources.{bound}")
            security = container.get("securityContext", {})
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.append(f"{at}: runAsNonRoot is not set")
            if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
                problems.append(f"{at}: runs as root (uid 0)")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation is not false")
            if security.get("privileged"):
                problems.append(f"{at}: privileged")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: readOnlyRootFilesystem is not true")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                problems.append(f"{at}: capabilities not dropped (drop: [ALL])")
            if ":" not in container["image"] and "@" not in container["image"]:
                problems.append(f"{at}: image {container['image']} has no tag")
    for doc in of_kind(docs, "Namespace"):
        labels = doc["metadata"].get("labels", {})
        if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
            problems.append(f"{where(doc)}: Pod Security Standard 'restricted' is not enforced")
    return problems


def secret_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Secrets are referenced, never in the manifests: no Secret object, no secret setting as a value."""
    problems = [
        f"{where(d)}: a Secret in the manifests (create it on the cluster)" for d in of_kind(docs, "Secret")
    ]
    for service in SERVICES:
        settings = settings_class(service)
        if isinstance(settings, str):
            continue
        secret_names = {
            name.upper() for name, f in settings.model_fields.items() if "SecretStr" in str(f.annotation)
        }
        secret_names.add("DATABASE_URL")  # carries the password
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            continue
        for container in all_containers(deployment):
            for var in container.get("env", []):
                if var["name"] in secret_names and "secretKeyRef" not in var.get("valueFrom", {}):
                    problems.append(
                        f"{where(deployment)} container {container['name']}: {var['name']} inlined, not from a Secret"
                    )
            for ref in container.get("envFrom", []):
                for name in config_map_data(docs, ref).keys() & secret_names:
                    problems.append(f"{where(deployment)}: {name} in a ConfigMap, not in a Secret")
    return problems


EVENT_KEY_VARIABLES = {
    "EVENT_SIGNING_KEY_ID": "signing-key-id",
    "EVENT_SIGNING_KEY": "signing-key",
    "EVENT_VERIFICATION_KEYS": "verification-keys",
}


def event_key_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Each service's event keys (issue 22) come from a Secret of its own, `<service>-event-keys`, to
    its serving container only: a service given another's Secret could sign as that service."""
    problems = []
    for service in SERVICES:
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            continue
        own = f"{service}-event-keys"
        for container in all_containers(deployment):
            env = {var["name"]: var for var in container.get("env", [])}
            serving = container.get("command", [])[-1:] == ["serve"]
            for variable, key in EVENT_KEY_VARIABLES.items():
                ref = env.get(variable, {}).get("valueFrom", {}).get("secretKeyRef")
                if serving and ref != {"name": own, "key": key}:
                    problems.append(
                        f"{where(deployment)} container {container['name']}: {variable} not from {own}/{key}"
                    )
                if not serving and variable in env:
                    problems.append(
                        f"{where(deployment)} container {container['name']}: {variable} given to a container that publishes nothing"
                    )
            for var in container.get("env", []):
                name = var.get("valueFrom", {}).get("secretKeyRef", {}).get("name", "")
                if name.endswith("-event-keys") and name != own:
                    problems.append(
                        f"{where(deployment)} container {container['name']}: reads {name}, another service's keys"
                    )
    return problems


# --- settings: the env of each service against its Settings class --------------------------------------


@functools.cache
def settings_class(service: str) -> Any:
    """The service's `<pkg>.app.Settings`, or why it cannot be had (a string)."""
    module = f"{SERVICES[service]}.app"
    try:
        settings = importlib.import_module(module).Settings
    except Exception as e:
        return f"cannot import {module}.Settings: {type(e).__name__}: {e}"
    return settings


def all_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def config_map_data(docs: tuple[dict[str, Any], ...], env_from: dict[str, Any]) -> dict[str, str]:
    if "configMapRef" not in env_from:
        raise AssertionError(f"envFrom {env_from}: only ConfigMaps (a Secret's keys cannot be checked here)")
    config_map = named(docs, "ConfigMap", env_from["configMapRef"]["name"])
    assert config_map is not None, f"envFrom: no ConfigMap {env_from['configMapRef']['name']}"
    return dict(config_map.get("data", {}))


def container_env(docs: tuple[dict[str, Any], ...], container: dict[str, Any]) -> dict[str, str | None]:
    """Env var -> literal value (None: from a Secret or a field), as the container will see it."""
    env: dict[str, str | None] = {}
    for ref in container.get("envFrom", []):
        env.update(config_map_data(docs, ref))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value") if "valueFrom" not in var else None
    return env


def settings_problems(docs: tuple[dict[str, Any], ...], service: str) -> list[str]:
    settings = settings_class(service)
    if isinstance(settings, str):
        return [f"{service}: {settings}"]
    deployment = named(docs, "Deployment", service)
    if deployment is None:
        return [f"{service}: no Deployment"]
    fields = settings.model_fields
    required = set(REQUIRED_EVERYWHERE) | REQUIRED_BY_SERVICE.get(service, set())
    for name, field in fields.items():
        default = field.default
        shown = default.get_secret_value() if hasattr(default, "get_secret_value") else default
        if isinstance(shown, str) and any(marker in shown for marker in DEV_DEFAULT_MARKERS):
            required.add(name.upper())
    problems = []
    for container in all_containers(deployment):
        at = f"{service} container {container['name']}"
        env = container_env(docs, container)
        for name in sorted(env):
            if name != name.upper() or name.lower() not in fields:
                problems.append(f"{at}: {name} is not a setting of {settings.__module__}.Settings")
        for name in sorted(required - env.keys()):
            problems.append(f"{at}: {name} is not set (the default is only good for the embedded dev stack)")
        literal = {k.lower(): v for k, v in env.items() if v is not None and k.lower() in fields}
        stand_ins = {k.lower(): "s" * 48 for k, v in env.items() if v is None and k.lower() in fields}
        if "database_url" in stand_ins:
            stand_ins["database_url"] = "postgresql://user:password@platform-db-rw:5432/db"
        if "event_signing_key_id" in stand_ins:
            stand_ins["event_signing_key_id"] = f"{service}-1"
        if "event_verification_keys" in stand_ins:  # JSON: per producing service, its keys by id
            stand_ins["event_verification_keys"] = {service: {f"{service}-1": "s" * 48}}
        try:
            settings.model_validate({**stand_ins, **literal})
        except Exception as e:
            problems.append(f"{at}: the settings do not validate: {e}")
    return problems


# --- the platform: services, topics, databases ---------------------------------------------------------


def int_setting(docs: tuple[dict[str, Any], ...], service: str, name: str, default: int) -> int:
    deployment = named(docs, "Deployment", service)
    assert deployment is not None
    value = container_env(docs, deployment["spec"]["template"]["spec"]["containers"][0]).get(name)
    return int(value) if value is not None else default


def service_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    problems = []
    for service in SERVICES:
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            problems.append(f"{service}: no Deployment")
            continue
        pod = deployment["spec"]["template"]["spec"]
        main = next((c for c in pod["containers"] if c["name"] == service), None)
        if main is None:
            problems.append(f"{service}: no container named {service}")
            continue
        if main.get("command") != [service, "serve"]:
            problems.append(f"{service}: the container does not run `{service} serve`")
        if not any(c.get("command") == [service, "migrate"] for c in pod.get("initContainers", [])):
            problems.append(f"{service}: no init container running `{service} migrate`")
        init_envs = [(c["name"], c.get("env"), c.get("envFrom")) for c in pod.get("initContainers", [])]
        # The same settings, but the event keys: the migration publishes nothing (event_key_problems).
        main_env = [v for v in main.get("env", []) if v["name"] not in EVENT_KEY_VARIABLES]
        for name, env, env_from in init_envs:
            if (env, env_from) != (main_env, main.get("envFrom")):
                problems.append(f"{service}: init container {name} does not get the service's settings")
        if main.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            problems.append(f"{service}: livenessProbe is not GET /healthz")
        if main.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            problems.append(f"{service}: readinessProbe is not GET /readyz")
        ports = {p.get("name"): p["containerPort"] for p in main.get("ports", [])}
        if ports.get("http") != HTTP_PORT or int_setting(docs, service, "HTTP_PORT", 0) != HTTP_PORT:
            problems.append(f"{service}: port http is not {HTTP_PORT} (containerPort and HTTP_PORT)")
        selector = deployment["spec"]["selector"]["matchLabels"]
        svc = named(docs, "Service", service)
        if svc is None or svc["spec"]["selector"] != selector:
            problems.append(f"{service}: no Service selecting its pods")
        pdbs = [
            p
            for p in of_kind(docs, "PodDisruptionBudget")
            if p["spec"]["selector"].get("matchLabels") == selector
        ]
        if not pdbs:
            problems.append(f"{service}: no PodDisruptionBudget")
    return problems


def autoscaler_problems(docs: tuple[dict[str, Any], ...], *, expected: bool) -> list[str]:
    """Each service scales on an HPA bounded by the partitions: more consumers than partitions idle."""
    problems = []
    partitions = min(t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic"))
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for service in SERVICES:
        hpa = hpas.get(service)
        if hpa is None:
            if expected:
                problems.append(f"{service}: no HorizontalPodAutoscaler")
            continue
        if hpa["spec"]["maxReplicas"] > partitions:
            problems.append(
                f"{service}: HPA maxReplicas {hpa['spec']['maxReplicas']} > {partitions} partitions per topic"
            )
        if hpa["spec"].get("minReplicas", 1) < 2:
            problems.append(f"{service}: HPA minReplicas < 2 (one pod is a single point of failure)")
    return problems


def topic_problems(docs: tuple[dict[str, Any], ...], *, replicas: int, min_insync: int) -> list[str]:
    problems = []
    kafka_topics = of_kind(docs, "KafkaTopic")
    names = {t["spec"].get("topicName", t["metadata"]["name"]) for t in kafka_topics}
    wanted = {*topics.ALL_EVENT_TOPICS, topics.DEAD_LETTERS}
    if names != wanted:
        problems.append(
            f"KafkaTopics {sorted(names)} are not the topics of contracts.topics {sorted(wanted)}"
        )
    brokers = sum(
        p["spec"]["replicas"] for p in of_kind(docs, "KafkaNodePool") if "broker" in p["spec"]["roles"]
    )
    clusters = {k["metadata"]["name"] for k in of_kind(docs, "Kafka")}
    for topic in kafka_topics:
        spec = topic["spec"]
        if topic["metadata"].get("labels", {}).get("strimzi.io/cluster") not in clusters:
            problems.append(f"{where(topic)}: strimzi.io/cluster is not one of the Kafka clusters {clusters}")
        if spec.get("replicas") != replicas or spec.get("replicas", 0) > brokers:
            problems.append(
                f"{where(topic)}: replicas {spec.get('replicas')}, want {replicas} on {brokers} brokers"
            )
        if int(spec.get("config", {}).get("min.insync.replicas", 1)) != min_insync:
            problems.append(f"{where(topic)}: min.insync.replicas is not {min_insync}")
        for service in SERVICES:
            if int_setting(docs, service, "KAFKA_TOPIC_PARTITIONS", 0) != spec["partitions"]:
                problems.append(f"{service}: KAFKA_TOPIC_PARTITIONS differs from {where(topic)}")
            if int_setting(docs, service, "KAFKA_REPLICATION_FACTOR", 0) != spec["replicas"]:
                problems.append(f"{service}: KAFKA_REPLICATION_FACTOR differs from {where(topic)}")
    return problems


def database_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """One database and one role per service; the service's DATABASE_URL Secret is its role's."""
    problems = []
    clusters = of_kind(docs, "Cluster")
    if len(clusters) != 1:
        return [f"{len(clusters)} CloudNativePG Clusters, want 1"]
    cluster = clusters[0]
    roles = {r["name"]: r for r in cluster["spec"].get("managed", {}).get("roles", [])}
    initdb = cluster["spec"].get("bootstrap", {}).get("initdb", {})
    owners = {initdb.get("database"): initdb.get("owner")}
    for db in of_kind(docs, "Database"):
        if db["spec"]["cluster"]["name"] != cluster["metadata"]["name"]:
            problems.append(f"{where(db)}: not in Cluster {cluster['metadata']['name']}")
        if db["spec"].get("databaseReclaimPolicy", "retain") != "retain":
            problems.append(f"{where(db)}: deleting the resource would drop an event store")
        owners[db["spec"]["name"]] = db["spec"]["owner"]
    for service, package in SERVICES.items():
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            continue
        main = deployment["spec"]["template"]["spec"]["containers"][0]
        url = next((v for v in main.get("env", []) if v["name"] == "DATABASE_URL"), None)
        secret = (url or {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
        role = roles.get(package)
        if owners.get(package) != package:
            problems.append(f"{service}: no database {package} owned by role {package}")
        if role is None or not role.get("login") or role.get("passwordSecret", {}).get("name") != secret:
            problems.append(
                f"{service}: role {package} does not log in with the Secret of its DATABASE_URL ({secret})"
            )
    if initdb.get("secret", {}).get("name") != roles.get(initdb.get("owner"), {}).get(
        "passwordSecret", {}
    ).get("name"):
        problems.append("the initdb owner's Secret is not its managed role's")
    return problems


def connection_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """At full scale every replica's pool, plus a migration each, fits in max_connections."""
    cluster = of_kind(docs, "Cluster")[0]
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    reserved = 3 + 10  # superuser_reserved_connections, the operator, replication, a human with psql
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
        for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    needed = 0
    for service in SERVICES:
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            continue
        settings = settings_class(service)
        default = settings.model_fields["db_pool_max_size"].default if not isinstance(settings, str) else 10
        replicas = hpas.get(service, deployment["spec"].get("replicas", 1))
        needed += replicas * int_setting(docs, service, "DB_POOL_MAX_SIZE", default) + 1
    if needed > max_connections - reserved:
        return [
            f"{needed} connections at full scale > max_connections {max_connections} - {reserved} reserved"
        ]
    return []


# --- Kafka: authenticated, authorised per service -----------------------------------------------------

#: Kafka's implied operations: Read, Write, Delete and Alter imply Describe; All implies everything.
KAFKA_OPERATIONS = (
    "Read",
    "Write",
    "Create",
    "Delete",
    "Alter",
    "Describe",
    "AlterConfigs",
    "DescribeConfigs",
)


def acl_grants(user: dict[str, Any], resource_type: str, name: str) -> set[str]:
    """The operations a KafkaUser's `allow` rules grant on one resource, as the broker's authoriser
    would match them (literal, literal `*`, prefix), implied Describe included; minus its `deny` rules."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for rule in user["spec"].get("authorization", {}).get("acls", []):
        resource = rule["resource"]
        if resource["type"] != resource_type:
            continue
        pattern, kind = resource.get("name", "*"), resource.get("patternType", "literal")
        matches = name.startswith(pattern) if kind == "prefix" else pattern in ("*", name)
        if not matches:
            continue
        operations = set(rule.get("operations", [])) | ({rule["operation"]} if "operation" in rule else set())
        if "All" in operations:
            operations |= set(KAFKA_OPERATIONS)
        if operations & {"Read", "Write", "Delete", "Alter"}:
            operations.add("Describe")
        (denied if rule.get("type", "allow") == "deny" else allowed).update(operations)
    return allowed - denied


def reaction_groups(service: str, prefix: str) -> dict[str, set[str]]:
    """The service's consumer group (one for all its reactions: chassis.subscriber) -> the topics it reads."""
    reactions = importlib.import_module(f"{SERVICES[service]}.app").REACTIONS
    read = {f"{prefix}{t}" for r in reactions for t in r.topics}
    return {f"{prefix}{service}.reactions": read} if read else {}


def kafka_security_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """The brokers accept only authenticated TLS clients and authorise with ACLs; each service connects
    as its own KafkaUser, which may write only its own topic and the dead letters, and read exactly
    the topics its reactions consume, in its own consumer groups."""
    problems = []
    [kafka] = of_kind(docs, "Kafka")
    cluster = kafka["metadata"]["name"]
    listeners = kafka["spec"]["kafka"]["listeners"]
    for listener in listeners:
        if not listener.get("tls") or listener.get("authentication", {}).get("type") not in (
            "scram-sha-512",
            "tls",
        ):
            problems.append(f"{where(kafka)}: listener {listener['name']} without TLS and authentication")
    if kafka["spec"]["kafka"].get("authorization", {}).get("type") != "simple":
        problems.append(f"{where(kafka)}: no ACL authorisation (authorization.type simple)")
    ports = {listener["port"] for listener in listeners}
    users = {u["metadata"]["name"]: u for u in of_kind(docs, "KafkaUser")}
    all_topics = {*topics.ALL_EVENT_TOPICS, topics.DEAD_LETTERS}
    prefix = setting_text(docs, "web", "KAFKA_TOPIC_PREFIX")
    all_groups = {g for service in SERVICES for g in reaction_groups(service, prefix)}
    for service in SERVICES:
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            continue
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = container_env(docs, container)
        at = f"{where(deployment)}"
        if (
            env.get("KAFKA_SECURITY_PROTOCOL") != "SASL_SSL"
            or env.get("KAFKA_SASL_MECHANISM") != "SCRAM-SHA-512"
        ):
            problems.append(f"{at}: Kafka not over SASL_SSL with SCRAM-SHA-512")
        for address in str(env.get("KAFKA_BOOTSTRAP_SERVERS") or "").split(","):
            host, _, port = address.rpartition(":")
            if host != f"{cluster}-kafka-bootstrap" or int(port or 0) not in ports:
                problems.append(
                    f"{at}: KAFKA_BOOTSTRAP_SERVERS {address} is not a listener of {where(kafka)}"
                )
        # The CA file is the cluster CA's certificate, mounted from the Secret Strimzi publishes.
        cafile = Path(str(env.get("KAFKA_SSL_CAFILE") or "/nowhere"))
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mount = next(
            (m for m in container.get("volumeMounts", []) if Path(m["mountPath"]) == cafile.parent), None
        )
        secret = volumes.get(mount["name"], {}).get("secret", {}) if mount else {}
        items = {i["path"]: i["key"] for i in secret.get("items", [])}
        if (
            secret.get("secretName") != f"{cluster}-cluster-ca-cert"
            or items.get(cafile.name, cafile.name) != "ca.crt"
        ):
            problems.append(f"{at}: KAFKA_SSL_CAFILE {cafile} is not {cluster}-cluster-ca-cert's ca.crt")
        # Its identity: the KafkaUser of its name, the password from the Secret the User Operator makes.
        username = env.get("KAFKA_SASL_USERNAME")
        user = users.get(str(username))
        if user is None:
            problems.append(f"{at}: KAFKA_SASL_USERNAME {username} is no KafkaUser")
            continue
        for c in all_containers(deployment):
            password = next((v for v in c.get("env", []) if v["name"] == "KAFKA_SASL_PASSWORD"), {})
            if password.get("valueFrom", {}).get("secretKeyRef") != {"name": username, "key": "password"}:
                problems.append(f"{at} container {c['name']}: KAFKA_SASL_PASSWORD not from Secret {username}")
        if user["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster:
            problems.append(f"{where(user)}: not a user of the Kafka cluster {cluster}")
        if user["spec"].get("authentication", {}).get("type") != "scram-sha-512":
            problems.append(f"{where(user)}: not authenticated with SCRAM-SHA-512")
        own = f"{prefix}{topics.BY_SERVICE[service]}"
        groups = reaction_groups(service, prefix)
        consumed = set().union(*groups.values()) if groups else set()
        grants = {f"{prefix}{t}": acl_grants(user, "topic", f"{prefix}{t}") for t in all_topics}
        writable = {t for t, g in grants.items() if "Write" in g}
        readable = {t for t, g in grants.items() if "Read" in g}
        if writable != {own, f"{prefix}{topics.DEAD_LETTERS}"}:
            problems.append(f"{where(user)}: writes {sorted(writable)}, not only {own} and the dead letters")
        if readable != consumed:
            problems.append(
                f"{where(user)}: reads {sorted(readable)}, its reactions consume {sorted(consumed)}"
            )
        for t, granted in grants.items():
            if extra := granted - {"Read", "Write", "Describe"}:
                problems.append(f"{where(user)}: {sorted(extra)} on {t}")
        for group in all_groups:
            reads = "Read" in acl_grants(user, "group", group)
            if reads != (group in groups):
                problems.append(f"{where(user)}: Read on consumer group {group} is {reads}")
        if acl_grants(user, "cluster", "kafka-cluster"):
            problems.append(
                f"{where(user)}: cluster operations {sorted(acl_grants(user, 'cluster', 'kafka-cluster'))}"
            )
    for name in users.keys() - {setting_text(docs, s, "KAFKA_SASL_USERNAME") for s in SERVICES}:
        problems.append(f"KafkaUser/{name}: used by no service")
    return problems


# --- monitoring: ServiceMonitors, the PrometheusRule, the Grafana dashboards ---------------------------


def monitoring_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Every service's Service is scraped by a ServiceMonitor on one of its ports; the alert rules are
    there; each dashboard is a ConfigMap the Grafana sidecar loads, holding a dashboard's JSON."""
    problems = []
    monitors = of_kind(docs, "ServiceMonitor")
    for service in SERVICES:
        svc = named(docs, "Service", service)
        scraping = [
            m
            for m in monitors
            if svc is not None
            and m["spec"]["selector"].get("matchLabels", {}).items()
            <= svc["metadata"].get("labels", {}).items()
        ]
        if svc is None:
            problems.append(f"{service}: no Service to scrape")
            if not any(m["metadata"]["name"] == service for m in monitors):
                problems.append(f"{service}: no ServiceMonitor")
            continue
        if not scraping:
            problems.append(f"{service}: no ServiceMonitor selects Service/{service}")
        ports = {p.get("name") for p in svc["spec"]["ports"]}
        for monitor in scraping:
            for endpoint in monitor["spec"].get("endpoints", []):
                if endpoint.get("port") not in ports or endpoint.get("path", "/metrics") != "/metrics":
                    problems.append(
                        f"{where(monitor)}: scrapes {endpoint}, not /metrics on a port of {service}"
                    )
    if [r["metadata"]["name"] for r in of_kind(docs, "PrometheusRule")] != ["integrator-platform"]:
        problems.append("no PrometheusRule integrator-platform")
    boards = [
        c for c in of_kind(docs, "ConfigMap") if c["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    if len(boards) != 3:
        problems.append(
            f"{len(boards)} dashboard ConfigMaps, want 3 (health, onboarding funnel, support desk)"
        )
    for board in boards:
        if board["metadata"]["labels"]["grafana_dashboard"] != "1":
            problems.append(f'{where(board)}: grafana_dashboard is not "1"')
        for key, text in board.get("data", {}).items():
            try:
                dashboard = json.loads(text)
            except ValueError as e:
                problems.append(f"{where(board)}: {key} is not JSON: {e}")
                continue
            if not (dashboard.get("uid") and dashboard.get("title") and dashboard.get("panels")):
                problems.append(f"{where(board)}: {key} has no uid, title or panels")
    return problems


# --- the tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_renders(name: str) -> None:
    kinds = {d["kind"] for d in overlay(name)}
    expected = {"Namespace", "Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Kafka"}
    expected |= {"KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "Database", "PersistentVolumeClaim"}
    expected |= {"ServiceMonitor", "PrometheusRule"}
    assert expected <= kinds
    namespaces = {d["metadata"].get("namespace") for d in overlay(name) if d["kind"] != "Namespace"}
    assert namespaces == {of_kind(overlay(name), "Namespace")[0]["metadata"]["name"]}


@pytest.mark.parametrize("name", OVERLAYS)
def test_core_kinds_pass_kubernetes_validate_strict(name: str) -> None:
    assert core_kind_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_command_line_kubernetes_validate_strict_agrees(name: str, tmp_path: Path) -> None:
    core = tmp_path / "core.yaml"
    core.write_text(yaml.safe_dump_all([d for d in overlay(name) if not is_custom(d)]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubernetes_validate",
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
            str(core),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", OVERLAYS)
def test_custom_resources_match_the_crd_schemas(name: str) -> None:
    assert custom_resource_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_workloads_have_probes_resources_and_a_restricted_security_context(name: str) -> None:
    assert workload_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_secrets_are_referenced_never_inlined(name: str) -> None:
    assert secret_problems(overlay(name)) == []


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("name", OVERLAYS)
def test_env_vars_are_settings_the_service_reads_and_what_it_needs_is_set(name: str, service: str) -> None:
    assert settings_problems(overlay(name), service) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_service_has_its_own_event_keys_secret(name: str) -> None:
    assert event_key_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_service_runs_migrates_and_is_served_and_protected(name: str) -> None:
    assert service_problems(overlay(name)) == []


def test_autoscalers_stay_within_the_partitions() -> None:
    assert autoscaler_problems(overlay("prod"), expected=True) == []
    assert of_kind(overlay("dev"), "HorizontalPodAutoscaler") == []  # dev runs one replica of each


def test_topics_are_the_contracts_topics_replicated_for_each_overlay() -> None:
    assert topic_problems(overlay("dev"), replicas=1, min_insync=1) == []
    assert topic_problems(overlay("prod"), replicas=3, min_insync=2) == []
    for topic in of_kind(overlay("prod"), "KafkaTopic"):
        retention = int(topic["spec"]["config"]["retention.ms"])
        if topic["spec"]["topicName"] in topics.ALL_EVENT_TOPICS:
            assert retention == -1, f"{where(topic)}: an event topic must keep its history"
        else:
            assert retention >= 7 * 24 * 3600 * 1000, f"{where(topic)}: dead letters kept less than a week"


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_service_has_its_own_database_and_role(name: str) -> None:
    assert database_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_service_is_scraped_alerted_on_and_has_dashboards(name: str) -> None:
    assert monitoring_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_kafka_authenticates_each_service_which_writes_only_its_own_topic(name: str) -> None:
    assert kafka_security_problems(overlay(name)) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_connections_at_full_scale_fit_postgresql(name: str) -> None:
    assert connection_problems(overlay(name)) == []


def test_a_broken_overlay_is_caught() -> None:
    """tests/fixtures/k8s/broken: the dev overlay with one deliberate mistake of each kind."""
    docs = render(BROKEN)
    core, crs = core_kind_problems(docs), custom_resource_problems(docs)
    workloads, secrets = workload_problems(docs), secret_problems(docs)
    env = settings_problems(docs, "onboarding")

    def caught(problems: list[str], *fragments: str) -> bool:
        return any(all(f in p for f in fragments) for p in problems)

    # A misspelt field of a core kind: kubernetes-validate --strict rejects it.
    assert caught(core, "Deployment/notifier", "readinesProbe"), core
    # The probe it should have been is missing, and so is support's liveness probe.
    assert caught(workloads, "Deployment/notifier", "no readinessProbe"), workloads
    assert caught(workloads, "Deployment/support", "no livenessProbe"), workloads
    # A misspelt field of a custom resource: the CRD schema rejects it.
    assert caught(crs, "KafkaTopic/support-events-v1", "'replica' was unexpected"), crs
    assert caught(crs, "ServiceMonitor/notifier", "'endpoint' was unexpected"), crs
    # A ServiceMonitor scraping a port the Service does not have.
    assert caught(monitoring_problems(docs), "ServiceMonitor/support", "not /metrics on a port"), crs
    # An env var the service does not read (a typo of KAFKA_BOOTSTRAP_SERVERS) and a secret inlined.
    assert caught(env, "KAFKA_BOOTSTRAP_SERVER is not a setting"), env
    assert caught(secrets, "Deployment/onboarding", "AUTH_SECRET inlined"), secrets
    # A service's Kafka user allowed to write another service's topic (support forging onboarding's events).
    kafka_acls = kafka_security_problems(docs)
    assert caught(kafka_acls, "KafkaUser/support", "writes", "onboarding.events.v1"), kafka_acls
    # Support's Deployment given onboarding's event keys: it could sign as onboarding.
    event_keys = event_key_problems(docs)
    assert caught(event_keys, "Deployment/support", "reads onboarding-event-keys"), event_keys
    assert not caught(event_keys, "Deployment/notifier"), event_keys
    assert not caught(kafka_acls, "KafkaUser/sim-logistics"), kafka_acls
    # and the untouched rest of the overlay is still clean:
    assert not caught(core + crs + workloads, "Deployment/sim-logistics")


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_only_public_entry_is_the_web_fronts_pages(name: str) -> None:
    """One Ingress, to the web front, on the host of PUBLIC_BASE_URL, with TLS; it routes the pages
    people open and never the web front's /metrics, /ops/…, /docs or /asyncapi."""
    docs = overlay(name)
    [ingress] = of_kind(docs, "Ingress")
    rules = ingress["spec"]["rules"]
    paths = [(p["path"], p["pathType"]) for rule in rules for p in rule["http"]["paths"]]
    assert {p["backend"]["service"]["name"] for r in rules for p in r["http"]["paths"]} == {"web"}
    for inside in ("/metrics", "/ops/status", "/docs", "/openapi.json", "/asyncapi", "/readyz"):
        routed = [
            (path, kind)
            for path, kind in paths
            if (kind == "Exact" and path == inside)
            or (kind == "Prefix" and inside.startswith(path.rstrip("/") + "/"))
            or (kind == "Prefix" and inside == path)
        ]
        assert not routed, f"{inside} is routed from outside by {routed}"
    for page in (
        "/",
        "/portal",
        "/console/tickets",
        "/survey/x",
        "/invitation/x",
        "/ism/set-password",
        "/login",
    ):
        assert any(
            (kind == "Exact" and path == page)
            or (kind == "Prefix" and (page == path or page.startswith(path + "/")))
            for path, kind in paths
        ), f"{page} is not routed"
    public = setting_text(docs, "web", "PUBLIC_BASE_URL")
    hosts = {rule["host"] for rule in rules}
    assert hosts == {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
    if public.startswith("https://"):
        assert public.split("/")[2] in hosts, (public, hosts)


def setting_text(docs: tuple[dict[str, Any], ...], service: str, name: str) -> str:
    deployment = named(docs, "Deployment", service)
    assert deployment is not None
    env = container_env(docs, deployment["spec"]["template"]["spec"]["containers"][0])
    return str(env.get(name) or "")

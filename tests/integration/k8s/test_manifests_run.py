"""The dev overlay's containers, run here: each mesh service is started with the command, args and
environment its rendered manifest gives the container (ConfigMap and Secret values resolved), must pass
every probe the manifest declares (gRPC health for the engine and the candle builder, HTTP for the
gateway and the pooler) and listen on every port it declares; then one trade goes through them as
configured (prices pooler -> stream -> engine and pooler -> pub/sub -> gateway WebSocket, signup, open,
close, the closed trade read back from PostgreSQL, the candles of those prices read back through the
gateway), so the services also agree with each other on stream, channel and addresses; finally each
stops on SIGTERM within the pod's terminationGracePeriodSeconds. A renamed variable, a wrong port, probe
path or command fails here, so the manifests and the code cannot drift apart. (test_manifests.py shows
prod runs the same processes.)

What differs from the cluster, and why; everything else is the manifest's value, unchanged:
* `python` (command[0]) is this virtualenv's interpreter: the image's /opt/venv has the same packages.
  The code it runs is the image's /app, rebuilt in a directory from the Dockerfile and .dockerignore
  (image.py), with the image's WORKDIR and PYTHONPATH pointing there.
* Ports: each containerPort gets a free loopback port. A `*_PORT` variable whose value is one of the
  container's ports gets that container's local port, and probes are sent there.
* Service names: a `host:port` value naming a mesh Service (ENGINE_ADDR=engine:50051) becomes
  127.0.0.1 and the local port of the container port the Service targets; a URL naming a data-store
  Service (redis, postgres, mongodb) becomes the test's real server (the redis_url, postgres_url and
  mongodb_url fixtures). A value still naming a Service afterwards fails the test.
* The servers are shared with other tests: STREAM_KEY, PRICE_CHANNEL, DEAD_LETTER_STREAM and
  CANDLE_CHANNEL get this test's key prefix, MONGODB_DATABASE a database of its own.
* BACKPACK_WS_URL and CANDLES_BACKFILL_URL are a local fake Backpack server (`python -m
  pooler.fake_backpack`, which serves the klines too): no traffic leaves loopback.
* ENGINE_BIND_HOST, GATEWAY_HOST, POOLER_HTTP_HOST and CANDLES_BIND_HOST are 127.0.0.1 (the services'
  bind settings; the manifests keep the 0.0.0.0 default a pod needs)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import redis
from exness.engine.v1 import admin_service_pb2, admin_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from websockets.sync.client import connect as websocket_connect

from harness.polling import NotYet, poll_until
from tests.integration.k8s import image
from tests.integration.k8s.manifests import (
    MESH_SERVICES,
    PROBES,
    Obj,
    container_env,
    container_port,
    find,
    objects,
    only_container,
    pod_name,
    pod_spec,
    probe_port,
    workloads,
)
from tests.support.net import free_port, wait_listening
from tests.support.processes import ManagedProcess

DATASTORE_SERVICES = ("redis", "postgres", "mongodb")
KEY_PREFIXED = ("STREAM_KEY", "PRICE_CHANNEL", "DEAD_LETTER_STREAM", "CANDLE_CHANNEL")
LOOPBACK_BIND = {
    "engine": "ENGINE_BIND_HOST",
    "gateway": "GATEWAY_HOST",
    "pooler": "POOLER_HTTP_HOST",
    "candles": "CANDLES_BIND_HOST",
}
# dependencies first: the gateway is ready only once the engine serves
START_ORDER = ("engine", "candles", "gateway", "pooler")
HOST_PORT = re.compile(r"^(?P<host>[a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(?P<port>\d+)$")
# an upper bound for start-up (migrations, snapshot restore), not a speed requirement
HEALTHY_WITHIN_SECONDS = 120.0


@dataclass
class LocalContainer:
    service: str
    pod: str
    workload: Obj
    container: Obj
    local_ports: dict[int, int]  # containerPort -> loopback port
    env: dict[str, str]


def _service_host(value: str) -> str | None:
    """The Service a value names, as a URL host or as `host:port`; None when it names none."""
    match = HOST_PORT.match(value)
    if match:
        return match["host"]
    parts = urllib.parse.urlsplit(value)
    if parts.scheme and parts.hostname:
        return parts.hostname.split(".")[0]
    return None


def plan(
    objs: list[Obj], datastore_urls: dict[str, str], isolation: dict[str, str], ordinal: int = 0
) -> dict[str, LocalContainer]:
    """Each mesh container as it runs here: its pod (`ordinal` of a StatefulSet), local ports and env."""
    by_name = {w["metadata"]["name"]: w for w in workloads(objs)}
    local = {}
    for service in MESH_SERVICES:
        container = only_container(by_name[service])
        ports = {p["containerPort"]: free_port() for p in container["ports"]}
        local[service] = LocalContainer(
            service, pod_name(by_name[service], ordinal), by_name[service], container, ports, {}
        )
    # (Service name, Service port) -> loopback address of the container port it targets
    service_addresses = {}
    services = [o for o in objs if o["kind"] == "Service"]
    for svc in services:
        target = next(
            (
                lc
                for lc in local.values()
                if lc.workload["spec"]["selector"]["matchLabels"].items() <= svc["spec"]["selector"].items()
            ),
            None,
        )
        for port in svc["spec"]["ports"] if target else []:
            local_port = target.local_ports[container_port(target.container, port["targetPort"])]
            service_addresses[(svc["metadata"]["name"], port["port"])] = f"127.0.0.1:{local_port}"
    service_names = {svc["metadata"]["name"] for svc in services}
    for lc in local.values():
        env = container_env(objs, lc.workload, lc.container, ordinal)
        for name, value in env.items():
            match = HOST_PORT.match(value)
            host = _service_host(value)
            if name.endswith("_PORT") and value.isdigit() and int(value) in lc.local_ports:
                env[name] = str(lc.local_ports[int(value)])
            elif match and (match["host"], int(match["port"])) in service_addresses:
                env[name] = service_addresses[(match["host"], int(match["port"]))]
            elif host in DATASTORE_SERVICES:
                env[name] = datastore_urls[host]
        env.update({k: v for k, v in isolation.items() if k in env or k == LOOPBACK_BIND[lc.service]})
        stale = {k: v for k, v in env.items() if _service_host(v) in service_names}
        assert not stale, f"{lc.service}: values naming a Service that the test does not substitute: {stale}"
        lc.env = env
    return local


def _probe_once(probe: Obj, port: int) -> str | None:
    """None when the probe succeeds (kubelet semantics), else what was seen."""
    try:
        if "grpc" in probe:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                request = health_pb2.HealthCheckRequest(service=probe["grpc"].get("service", ""))
                status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2).status
            return (
                None
                if status == health_pb2.HealthCheckResponse.SERVING
                else (health_pb2.HealthCheckResponse.ServingStatus.Name(status))
            )
        if "httpGet" in probe:
            response = httpx.get(f"http://127.0.0.1:{port}{probe['httpGet'].get('path', '/')}", timeout=2)
            return None if 200 <= response.status_code < 400 else f"HTTP {response.status_code}: {response.text[:300]}"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return None
    except (grpc.RpcError, httpx.HTTPError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _wait(check: Callable[[], str | None], proc: ManagedProcess, what: str) -> None:
    """Until `check` reports no failure (None); its last failure is named if `proc` exits or time runs out."""

    def healthy() -> bool:
        failure = check()
        if failure is not None:
            raise NotYet(failure)
        return True

    poll_until(healthy, what, HEALTHY_WITHIN_SECONDS, proc, interval=0.2)


class ContainerProcess(ManagedProcess):
    """A ManagedProcess with exactly the given environment, started in the image's working directory."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> None:
        super().__init__(args, log_path)
        self.env = env
        self.cwd = cwd

    def start(self) -> ContainerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd, start_new_session=True
            )
        return self


def image_runtime(root: Path) -> tuple[Path, dict[str, str]]:
    """The image's /app rebuilt under `root`, its WORKDIR there, and the image's ENV (PYTHONPATH, ...)
    with /app mapped there; PATH stays this machine's (it finds this venv's python)."""
    app = image.build_app_tree(root)

    def local(value: str) -> str:
        return value.replace(image.APP, str(app))

    env = {k: local(v) for k, v in image.runtime_env().items() if k != "PATH"}
    env.update({"PATH": os.environ["PATH"], "HOME": str(root)})
    return Path(local(image.runtime("WORKDIR")[-1])), env


def assert_imports_come_from_the_image(workdir: Path, env: dict[str, str]) -> None:
    """This venv also has the project installed (editable), which would hide a package or module the image
    lacks: the entry points must import every module of the project from the image tree."""
    script = (
        "import importlib, sys\n"
        "for service in ('engine', 'gateway', 'pooler', 'candles'):\n"
        "    importlib.import_module(service + '.__main__')\n"
        "ours = ('mesh', 'engine', 'gateway', 'pooler', 'candles', 'exness')\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if name.split('.')[0] in ours and getattr(module, '__file__', None):\n"
        "        print(module.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"the entry points do not import from the image's /app:\n{done.stderr}"
    files = done.stdout.split()
    outside = [f for f in files if not Path(f).is_relative_to(workdir)]
    assert files and not outside, f"modules the image would lack (imported from outside it): {outside}"


def _start(lc: LocalContainer, log_dir: Path, workdir: Path, image_env: dict[str, str]) -> ManagedProcess:
    command = [*lc.container["command"], *lc.container.get("args", [])]
    assert command[0] == "python", f"{lc.service}: the image runs `python -m ...`, got {command}"
    # the container's environment (the image's ENV, then the manifest's), not this test process's
    return ContainerProcess(
        [sys.executable, *command[1:]], log_dir / f"{lc.pod}.log", {**image_env, **lc.env}, workdir
    ).start()


def _check_healthy(lc: LocalContainer, proc: ManagedProcess) -> None:
    probed = set()
    for kind in PROBES:
        probe = lc.container.get(kind)
        if probe is None:
            continue
        port = container_port(lc.container, probe_port(probe))
        probed.add(port)
        _wait(lambda probe=probe, port=port: _probe_once(probe, lc.local_ports[port]), proc, f"{lc.service} {kind}")
    # the ports no probe covers (metrics) must be served too: their *_PORT variable is read
    for port in set(lc.local_ports) - probed:
        _wait(lambda port=port: _probe_once({"tcpSocket": {}}, lc.local_ports[port]), proc, f"{lc.service} port {port}")


def _until(attempt: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool], what: str) -> httpx.Response:
    def answered() -> tuple[httpx.Response]:
        response = attempt()
        if not done(response):
            raise NotYet(f"{response.status_code} {response.text[:500]}")
        return (response,)

    (response,) = poll_until(answered, what, HEALTHY_WITHIN_SECONDS, interval=0.2)
    return response


def exercise_the_mesh(gateway: str, assets: list[str]) -> None:
    """One trade through the three services as the manifests configure them."""
    api = f"{gateway}/api/v1"
    with httpx.Client(timeout=10) as http:
        # pooler -> STREAM_KEY -> engine: the engine's quotes, read through the gateway
        _until(
            lambda: http.get(f"{api}/prices"),
            lambda r: r.status_code == 200 and set(assets) <= set(r.json()["prices"]),
            "engine prices",
        )
        # pooler -> PRICE_CHANNEL -> gateway: the WebSocket fan-out
        with websocket_connect(f"{gateway.replace('http', 'ws', 1)}/ws/prices", open_timeout=10) as socket_:
            message = socket_.recv(timeout=30)
        assert '"PRICE_UPDATE"' in str(message), message
        # gateway -> stream -> engine -> StreamReplies -> gateway, users in PostgreSQL
        signup = http.post(
            f"{api}/signup", json={"email": f"k8s-{uuid.uuid4().hex[:10]}@example.com", "password": "manifest-run-1"}
        )
        assert signup.status_code == 201, signup.text
        auth = {"Authorization": f"Bearer {signup.json()['token']}"}
        order = {"asset": assets[0], "side": "LONG", "quantity": "0.001", "leverage": 1}
        # 503 until the engine holds a fresh quote of the asset
        opened = _until(
            lambda: http.post(f"{api}/trade/create", json=order, headers=auth),
            lambda r: r.status_code != 503,
            "open an order",
        )
        assert opened.status_code == 201, opened.text
        order_id = opened.json()["trade"]["id"]
        closed = http.post(f"{api}/trade/close", json={"orderId": order_id}, headers=auth)
        assert closed.status_code == 201, closed.text
        # the engine committed the closed trade to PostgreSQL before that reply
        history = http.get(f"{api}/trade/closed", headers=auth)
        assert history.status_code == 200, history.text
        assert [o["id"] for o in history.json()["orders"]] == [order_id]
        # pooler -> stream -> candles -> gRPC -> gateway: the live candle of the quotes above
        _until(
            lambda: http.get(f"{api}/candles", params={"asset": assets[0], "interval": "1m"}),
            lambda r: r.status_code == 200 and any(c["ticks"] > 0 for c in r.json()["candles"]),
            "candles",
        )


@dataclass
class RunContext:
    log_dir: Path
    datastore_urls: dict[str, str]
    # the substitutions that keep a run on loopback and apart from other tests (module docstring)
    isolation: dict[str, str]
    backpack_port: int
    workdir: Path
    image_env: dict[str, str]


@pytest.fixture
def run_context(
    redis_url: str, postgres_url: str, mongodb_url: str, mongo_database: str, key_prefix: str, artifacts_dir: Path
) -> Iterator[RunContext]:
    log_dir = artifacts_dir / f"k8s-run-{key_prefix.strip(':').replace(':', '-')}"
    log_dir.mkdir()
    backpack_port = free_port()
    isolation = {
        **{name: f"{key_prefix}{name.lower()}" for name in KEY_PREFIXED},
        "MONGODB_DATABASE": mongo_database,
        "BACKPACK_WS_URL": f"ws://127.0.0.1:{backpack_port}",
        "CANDLES_BACKFILL_URL": f"http://127.0.0.1:{backpack_port}",
        **{name: "127.0.0.1" for name in LOOPBACK_BIND.values()},
    }
    workdir, image_env = image_runtime(log_dir / "image")
    yield RunContext(
        log_dir,
        {"redis": redis_url, "postgres": postgres_url, "mongodb": mongodb_url},
        isolation,
        backpack_port,
        workdir,
        image_env,
    )
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _stop(lc: LocalContainer, proc: ManagedProcess) -> None:
    """SIGTERM, and the exit within the grace the pod spec gives before the kubelet's SIGKILL. Exit status 0,
    or the SIGTERM itself: uvicorn (the gateway) re-raises it once its graceful shutdown is done, which a
    container reports as 143, a normal termination for Kubernetes."""
    code = proc.stop(timeout=pod_spec(lc.workload).get("terminationGracePeriodSeconds", 30))
    assert code in (0, -signal.SIGTERM), f"{lc.pod} exited with {code} on SIGTERM:\n{proc.output()[-6000:]}"


def test_dev_overlay_containers_start_pass_their_probes_and_stop_cleanly(run_context: RunContext) -> None:
    ctx = run_context
    local = plan(objects("overlays/dev"), ctx.datastore_urls, ctx.isolation)
    assert_imports_come_from_the_image(ctx.workdir, ctx.image_env)
    fake_backpack = ManagedProcess(
        [
            sys.executable,
            "-m",
            "pooler.fake_backpack",
            "--port",
            str(ctx.backpack_port),
            "--seed",
            "7",
            "--close-grace",
            "1",
        ],
        ctx.log_dir / "fake_backpack.log",
    ).start()
    started: list[tuple[LocalContainer, ManagedProcess]] = []
    try:
        wait_listening("127.0.0.1", ctx.backpack_port, timeout=60, what="fake Backpack server")
        for service in START_ORDER:
            proc = _start(local[service], ctx.log_dir, ctx.workdir, ctx.image_env)
            started.append((local[service], proc))
            _check_healthy(local[service], proc)
        gateway_port = local["gateway"].local_ports[container_port(local["gateway"].container, "http")]
        assets = [spec.split(":")[0] for spec in local["engine"].env["ASSETS"].split(",")]
        exercise_the_mesh(f"http://127.0.0.1:{gateway_port}", assets)
        while started:  # dependants first
            _stop(*started.pop())
    finally:
        for _, proc in reversed(started):
            proc.kill()
        fake_backpack.stop()


def _engine_status(lc: LocalContainer) -> admin_service_pb2.GetStatusResponse:
    port = lc.local_ports[container_port(lc.container, "grpc")]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = admin_service_pb2_grpc.EngineAdminServiceStub(channel)
        response: admin_service_pb2.GetStatusResponse = stub.GetStatus(admin_service_pb2.GetStatusRequest(), timeout=5)
        return response


def test_engine_standby_is_alive_but_unready_until_the_leader_dies(run_context: RunContext) -> None:
    """What the engine-standby component promises: engine-1 passes its startup and liveness probes (it is
    not restarted) but not its readiness probe (the `engine` Service does not route to it) while engine-0
    holds the lease, and becomes Ready when engine-0 dies without releasing it (the lease expires after
    the ConfigMap's LEASE_TTL_MS)."""
    ctx = run_context
    objs = objects("tests/dev-with-engine-standby")
    assert find(objs, "StatefulSet", "engine")["spec"]["replicas"] == 2
    leader, standby = (plan(objs, ctx.datastore_urls, ctx.isolation, ordinal)["engine"] for ordinal in (0, 1))
    readiness = standby.container["readinessProbe"]
    standby_grpc = standby.local_ports[container_port(standby.container, probe_port(readiness))]
    started: list[ManagedProcess] = []
    try:
        leader_proc = _start(leader, ctx.log_dir, ctx.workdir, ctx.image_env)
        started.append(leader_proc)
        _check_healthy(leader, leader_proc)
        standby_proc = _start(standby, ctx.log_dir, ctx.workdir, ctx.image_env)
        started.append(standby_proc)
        for kind in ("startupProbe", "livenessProbe"):
            probe = standby.container[kind]
            port = standby.local_ports[container_port(standby.container, probe_port(probe))]
            _wait(lambda probe=probe, port=port: _probe_once(probe, port), standby_proc, f"{standby.pod} {kind}")
        status = _engine_status(standby)
        assert (status.instance_name, status.leader) == ("engine-1", False)
        assert _probe_once(readiness, standby_grpc) == "NOT_SERVING"
        assert _engine_status(leader).leader
        leader_proc.kill()  # SIGKILL: a crashed node, the lease is not released
        _wait(lambda: _probe_once(readiness, standby_grpc), standby_proc, f"{standby.pod} readinessProbe")
        status = _engine_status(standby)
        assert (status.instance_name, status.leader) == ("engine-1", True)
        _stop(standby, started.pop())
    finally:
        for proc in started:
            proc.kill()

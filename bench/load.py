"""`make bench` / `python -m bench.load`: load the whole platform with wrk and report what it did.

    .venv/bin/python -m bench.load [--quick] [--duration 10] [--connections 1,16,64,256]
                                   [--scenarios create,mixed,echo] [--traders 64] [--out DIR]

It starts the platform (bench.platform: fake Backpack on a random price path, pooler, engine, gateway,
and the trivial FastAPI app under the same uvicorn settings) on free loopback ports with the auth rate
limit raised, signs up traders for each trading scenario and writes their tokens to a file, then runs
wrk with bench/wrk/mesh.lua once per (scenario, connections):

- create: POST /trade/create market orders, a fresh Idempotency-Key each;
- mixed: open 40%, close 30% (each wrk thread closes positions it opened), GET /trade/open 15%,
  GET /balance 15%; one connection per wrk thread, so latencies are exact per endpoint;
- echo: the trivial FastAPI JSON POST: the ceiling of this server stack on this machine.

Every 0.5 s it samples the gateway's request counters (throughput over time), the engine's stream lag
(XINFO GROUPS) and the memory of every process; around each level the CPU seconds of every process
(psutil; wrk's from the children's rusage). The report (report.md, report.json, chart.png) goes to
--out (default bench/results/<UTC time>); the Markdown is printed at the end with the command that
reproduces it. Load averages are recorded: on a shared machine the figures are noisy."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

from bench import wrk_report
from bench.platform import REDIS_URL, Platform
from bench.progress import progress_line

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk" / "mesh.lua"
SAMPLE_SECONDS = 0.5
# how long to keep sampling the engine's lag after wrk stops, waiting for it to reach 0
DRAIN_SECONDS = 3.0
CREATE_ROUTE = "/api/v1/trade/create"
SHARED_SERVERS = {"redis": ("redis-server",), "postgres": ("postgres", "postgresql")}


@dataclass
class Sampler:
    """Background sampling every 0.5 s: gateway request counter, engine lag, RSS of every process."""

    gateway_metrics: str
    stream_key: str
    pids: dict[str, list[int]]
    t0: float = field(default_factory=time.monotonic)
    requests: list[tuple[float, float]] = field(default_factory=list)
    lag: list[tuple[float, float]] = field(default_factory=list)
    rss_max: dict[str, int] = field(default_factory=dict)
    extra_pids: dict[str, list[int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def reset_rss(self) -> None:
        self.rss_max = {}

    def latest_rate(self) -> float | None:
        points = wrk_report.rates(self.requests[-2:])
        return points[-1][1] if points else None

    def _run(self) -> None:
        client = redis.Redis.from_url(REDIS_URL)
        http = httpx.Client(timeout=2)
        try:
            while not self._stop.wait(SAMPLE_SECONDS):
                t = self.now()
                try:
                    totals = wrk_report.counter_totals(
                        http.get(self.gateway_metrics).text, "gateway_http_requests_total", by="route"
                    )
                    self.requests.append((t, sum(v for route, v in totals.items() if route.startswith("/api/"))))
                except httpx.HTTPError:
                    pass
                try:
                    for group in client.xinfo_groups(self.stream_key):
                        if group["name"] in (b"engine", "engine") and group.get("lag") is not None:
                            self.lag.append((t, float(group["lag"])))
                except redis.RedisError:
                    pass
                for name, pids in {**self.pids, **self.extra_pids}.items():
                    rss = 0
                    for pid in pids:
                        try:
                            rss += psutil.Process(pid).memory_info().rss
                        except psutil.Error:
                            continue
                    self.rss_max[name] = max(self.rss_max.get(name, 0), rss)
        finally:
            http.close()
            client.close()


def shared_server_pids() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {name: [] for name in SHARED_SERVERS}
    for proc in psutil.process_iter(["name"]):
        for name, prefixes in SHARED_SERVERS.items():
            if (proc.info["name"] or "").startswith(prefixes):
                found[name].append(proc.pid)
    return found


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process that is still there."""
    seconds = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds[pid] = times.user + times.system
    return seconds


def cpu_snapshot(own: dict[str, int], shared: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """CPU seconds by process name and pid; wrk's are the children's rusage (wrk is the only child that
    exits during a level), the driver's its own process time."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    snapshot = {name: cpu_by_pid([pid]) for name, pid in own.items()}
    snapshot["wrk"] = {0: children.ru_utime + children.ru_stime}
    snapshot["bench driver"] = {0: time.process_time()}
    snapshot |= {name: cpu_by_pid(pids) for name, pids in shared.items()}
    return snapshot


def parse_levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("connections are positive integers, comma-separated")
    return levels


def run_wrk(
    args: argparse.Namespace,
    *,
    scenario: str,
    connections: int,
    url: str,
    tokens: Path,
    out: Path,
    sampler: Sampler,
    label: str,
    done_before: float,
    total: float,
) -> float:
    """One wrk run, redrawing the progress line meanwhile; returns when it ended (monotonic)."""
    # mixed: a thread per connection (exact per-endpoint latency) up to --mixed-threads
    one_per_thread = scenario == "mixed" and args.mixed_threads >= connections
    if one_per_thread:
        threads = connections
    elif scenario == "mixed":
        threads = args.mixed_threads
    else:
        threads = min(connections, args.wrk_threads)
    env = {
        **os.environ,
        "BENCH_SCENARIO": scenario,
        "BENCH_TOKENS": str(tokens),
        "BENCH_OUT": str(out),
        "BENCH_PER_OP": "1" if one_per_thread else "0",
        "BENCH_RUN": uuid.uuid4().hex[:8],
    }
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    log = out.with_suffix(".wrk.txt").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    sampler.extra_pids["wrk"] = [proc.pid]
    started = time.monotonic()
    tty = sys.stderr.isatty()
    last_line = 0.0
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if tty or elapsed - last_line >= 5:
                last_line = elapsed
                line = progress_line(
                    done_s=done_before + elapsed,
                    total_s=total,
                    label=label,
                    level_s=elapsed,
                    level_total_s=args.duration,
                    rate=sampler.latest_rate() if scenario != "echo" else None,
                    lag=sampler.lag[-1][1] if sampler.lag and scenario != "echo" else None,
                )
                sys.stderr.write(("\r" + line + "\033[K") if tty else line + "\n")
                sys.stderr.flush()
            time.sleep(0.25)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)
        log.close()
        sampler.extra_pids.pop("wrk", None)
    if tty:
        sys.stderr.write("\n")
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out.with_suffix('.wrk.txt').read_text()[-2000:]}")
    return time.monotonic()


def gateway_metrics(platform: Platform) -> str:
    return httpx.get(f"{platform.gateway_url}/metrics", timeout=5).text


def engine_replies_dropped(platform: Platform) -> float | None:
    try:
        text = httpx.get(platform.engine_metrics_url, timeout=2).text
    except httpx.HTTPError:
        return None
    return sum(wrk_report.counter_totals(text, "engine_replies_dropped_total", by="reason").values())


def start_profilers(args: argparse.Namespace, pid: int, raw_dir: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on the gateway: the flame graph, and the same samples as collapsed stacks for
    bench.profile_summary."""
    profilers = []
    for output, kind in ((args.profile_gateway, "flamegraph"), (raw_dir / "gateway.collapsed", "raw")):
        with (raw_dir / f"py-spy-{kind}.log").open("wb") as log:
            profilers.append(
                subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(min(args.profile_seconds, args.duration)),
                        "--nonblocking",
                        "--output",
                        str(output),
                        "--format",
                        kind,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    return profilers


def run_level(
    args: argparse.Namespace,
    platform: Platform,
    sampler: Sampler,
    own: dict[str, int],
    *,
    scenario: str,
    connections: int,
    tokens: Path,
    raw_dir: Path,
    progress: tuple[float, float],
    profile: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One wrk run and what the services did meanwhile; returns (the report's level, its time span)."""
    label = f"{scenario:6s} c={connections:<4d}"
    url = platform.ceiling_url if scenario == "echo" else platform.gateway_url
    out = raw_dir / f"{scenario}-c{connections}.json"
    dropped_before = engine_replies_dropped(platform)
    gateway_before = gateway_metrics(platform)
    sampler.reset_rss()
    shared = shared_server_pids()  # PostgreSQL forks a process per connection: look again each level
    sampler.pids.update(shared)
    cpu_before = cpu_snapshot(own, shared)
    begin = sampler.now()
    profilers = []
    if profile:
        say(f"profiling the gateway (pid {own['gateway']}) for {min(args.profile_seconds, args.duration)} s")
        profilers = start_profilers(args, own["gateway"], raw_dir)
    end_mono = run_wrk(
        args,
        scenario=scenario,
        connections=connections,
        url=url,
        tokens=tokens,
        out=out,
        sampler=sampler,
        label=label,
        done_before=progress[0],
        total=progress[1],
    )
    cpu_after = cpu_snapshot(own, shared)
    for profiler in profilers:
        if profiler.wait(timeout=60) != 0:
            say(f"py-spy failed ({profiler.returncode}); see {raw_dir}/py-spy-*.log")
    stopped_at = end_mono - sampler.t0
    if scenario != "echo":
        # keep sampling until the engine has caught up (or DRAIN_SECONDS pass)
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and not (
            sampler.lag and sampler.lag[-1][0] > stopped_at and sampler.lag[-1][1] == 0
        ):
            time.sleep(0.1)
    dropped_after = engine_replies_dropped(platform)
    result = wrk_report.parse_wrk_result(out.read_text())
    server_ms = None
    if scenario == "create":
        counted = wrk_report.status_deltas(gateway_before, gateway_metrics(platform), CREATE_ROUTE)
        result = wrk_report.fill_statuses(result, "open", counted)
    elif scenario == "echo":
        result = wrk_report.fill_statuses(result, "echo", None)
    elif not result.samples_us:
        # several connections per wrk thread: per-endpoint latency from the gateway's own histogram
        gateway_after = gateway_metrics(platform)
        server_ms = {
            op: {
                k: v * 1000
                for k, v in wrk_report.histogram_percentiles(
                    gateway_before, gateway_after, "gateway_http_request_duration_seconds", {"route": route}
                ).items()
            }
            for op, route in wrk_report.ROUTES.items()
        }
    level = wrk_report.level_summary(
        result,
        connections=connections,
        lag_samples=[(t, v) for t, v in sampler.lag if t >= begin] if scenario != "echo" else [],
        stopped_at=stopped_at,
        cpu_seconds=wrk_report.cpu_spent(cpu_before, cpu_after),
        rss_bytes=dict(sampler.rss_max),
        shared=SHARED_SERVERS,
        replies_dropped=(
            dropped_after - dropped_before if dropped_after is not None and dropped_before is not None else None
        ),
        load_average=os.getloadavg(),
        server_ms=server_ms,
    )
    lat = level["latency_ms"]
    say(
        f"{label} {level['requests_per_s']:8,.0f} req/s  p50 {lat['p50']:.2f} ms  p99 {lat['p99']:.2f} ms"
        f"  non-2xx {sum(level['errors']['status'].values())}  load {level['load_average'][0]}"
    )
    return level, {
        "scenario": scenario,
        "connections": connections,
        "start_s": round(begin, 3),
        "end_s": round(stopped_at, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: 3 s per level, 16 traders per scenario")
    parser.add_argument("--duration", type=int, default=None, help="seconds per level (default 10, quick 3)")
    parser.add_argument("--connections", type=parse_levels, default=parse_levels("1,16,64,256"))
    parser.add_argument("--scenarios", default="create,mixed,echo")
    parser.add_argument("--traders", type=int, default=None, help="traders per trading scenario (64, quick 16)")
    parser.add_argument(
        "--wrk-threads", type=int, default=2, help="wrk threads for create/echo (mixed: one per connection)"
    )
    parser.add_argument(
        "--mixed-threads",
        type=int,
        default=16,
        help="wrk threads of the mixed load at most (default 16). Up to this many connections "
        "each thread owns one and per-endpoint latency is exact; beyond, each thread trades "
        "as one trader and per-endpoint latency comes from the gateway's histogram (a "
        "thread per connection costs wrk a timer per thread: over budget at 64+)",
    )
    parser.add_argument("--out", type=Path, default=None, help="report directory (default bench/results/<time>)")
    parser.add_argument(
        "--profile-gateway",
        type=Path,
        default=None,
        metavar="SVG",
        help="py-spy flame graph of the gateway during the first create-order level at "
        "--profile-connections (py-spy, pinned in requirements/dev.lock; needs ptrace)",
    )
    parser.add_argument("--profile-connections", type=int, default=64)
    parser.add_argument("--profile-seconds", type=int, default=20)
    args = parser.parse_args(argv)
    args.duration = args.duration or (3 if args.quick else 10)
    args.traders = args.traders or (16 if args.quick else 64)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(wrk_report.SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {sorted(wrk_report.SCENARIOS)}")
    started_at = dt.datetime.now(dt.UTC)
    out_dir: Path = args.out or ROOT / "bench" / "results" / started_at.strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = out_dir / "raw"
    raw_dir.mkdir(exist_ok=True)
    given = " ".join(shlex.quote(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    command = f"make bench BENCH_ARGS={shlex.quote(given)}" if given else "make bench"
    load_before = [round(x, 2) for x in os.getloadavg()]

    def say(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    platform = Platform(out_dir / "logs")
    sampler: Sampler | None = None
    levels: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    try:
        platform.start(say)
        token_files: dict[str, Path] = {}
        for scenario in scenarios:
            if scenario == "echo":
                continue
            # each scenario its own traders: the mixed load's reads must not see create-order's pile of positions
            say(f"signing up {args.traders} traders for {scenario} (bcrypt: a few seconds)")
            path = raw_dir / f"tokens-{scenario}.txt"
            path.write_text("\n".join(platform.signup(args.traders, scenario)) + "\n")
            token_files[scenario] = path
        own = {name: proc.pid for name, proc in platform.processes.items()}
        sampler = Sampler(
            f"{platform.gateway_url}/metrics", platform.stream_key, {name: [pid] for name, pid in own.items()}
        )
        sampler.start()
        profiled = False
        plan = [(s, c) for s in scenarios for c in args.connections]
        total = len(plan) * args.duration
        for index, (scenario, connections) in enumerate(plan):
            profile = (
                args.profile_gateway is not None
                and not profiled
                and scenario == "create"
                and connections == args.profile_connections
            )
            profiled = profiled or profile
            level, span = run_level(
                args,
                platform,
                sampler,
                own,
                scenario=scenario,
                connections=connections,
                tokens=token_files.get(scenario, raw_dir / "none"),
                raw_dir=raw_dir,
                progress=(index * args.duration, total),
                profile=profile,
                say=say,
            )
            levels.append(level)
            spans.append(span)
    finally:
        if sampler:
            sampler.stop()
        say("stopping the platform")
        platform.stop()

    report: dict[str, Any] = {
        "started_at": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "duration_s": args.duration,
            "connections": args.connections,
            "scenarios": scenarios,
            "traders_per_scenario": args.traders,
            "wrk_threads": args.wrk_threads,
            "mixed_threads": args.mixed_threads,
        },
        "levels": levels,
        "series": {
            "spans": spans,
            "gateway_requests_per_s": [
                [round(t, 3), round(r, 1)] for t, r in wrk_report.rates(sampler.requests if sampler else [])
            ],
            "engine_lag": [[round(t, 3), v] for t, v in (sampler.lag if sampler else [])],
        },
    }
    busy = max(load_before[0], report["machine"]["load_after"][0])
    if busy >= 1.0:
        report["noisy"] = (
            f"taken while other work shared the machine (load average {load_before[0]} before, "
            f"{report['machine']['load_after'][0]} after)"
        )
    try:
        from bench.chart import write_chart

        write_chart(report, out_dir / "chart.png")
        report["chart"] = "chart.png"
    except ImportError as exc:  # matplotlib comes from requirements/dev.lock; the figures stand without the chart
        say(f"no chart: {exc}")
    document = json.dumps(wrk_report.json_ready(report), indent=1, allow_nan=False, default=str)
    (out_dir / "report.json").write_text(document + "\n")
    markdown = wrk_report.render_markdown(report)
    (out_dir / "report.md").write_text(markdown)
    print(markdown)
    print(f"report: {out_dir}/report.md, report.json, chart.png")
    print(f"reproduce: {command}")


if __name__ == "__main__":
    main()

"""`python -m bench.profile_summary STACKS [--requests N] [--cpu-ms-per-request X]`: where a process's
samples went, from py-spy's collapsed stacks (`py-spy record --format raw`, which bench.load writes
next to the flame graph as raw/gateway.collapsed).

Each sample goes to the category of its innermost frame that matches one (so JWT decoding inside
FastAPI's dependency solving counts as "JWT"); samples matching none go to a fallback (framework,
server, threads) the same way, the rest to "other". With --cpu-ms-per-request (the report's gateway CPU
per order) every share is also given in ms per request. The top self-time functions follow."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

# (label, substrings of a frame): what the gateway spends an order on; first match from the leaf wins
GATEWAY_CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("JWT verification (PyJWT)", ("user_id_from_token", "jwt/")),
    ("cookie parsing in FastAPI's dependency solving", ("HTTPConnection.cookies",)),
    ("Redis socket write of the XADD (send syscall)", ("_send_packed_command",)),
    ("engine submit: command build + XADD (redis-py)", ("EngineClient.submit", "open_position_command")),
    ("reply stream: gRPC read + resolving the waiter", ("EngineClient._reply_loop",)),
    (
        "request JSON parse + pydantic validation",
        ("ExactJsonRequest.json", "request_body_to_args", "_validate_value", "validate_python"),
    ),
    (
        "response model + JSON serialisation",
        ("serialize_response", "jsonable_encoder", "JSONResponse.render", "trade_out", "JSONResponse.__init__"),
    ),
    ("FastAPI dependency solving (rest)", ("solve_dependencies",)),
    ("Prometheus metrics (labels, observe)", ("prometheus_client/",)),
]
# consulted only when no frame of a sample matches a category above
GATEWAY_FALLBACKS: list[tuple[str, tuple[str, ...]]] = [
    ("gateway middlewares' own code (metrics, body limit)", ("gateway/metrics.py", "gateway/limits.py")),
    ("FastAPI/Starlette routing + middleware (rest)", ("fastapi/", "starlette/")),
    ("uvicorn HTTP (httptools): parse, response write syscall", ("uvicorn/",)),
    ("native threads (gRPC's poller)", ("Thread.run",)),
]
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME_LINE = re.compile(r":\d+\)$")


def parse_collapsed(text: str) -> list[tuple[list[str], int]]:
    """`a;b;c 12` lines -> [(["a", "b", "c"], 12), ...] (outermost frame first); blank lines skipped."""
    stacks = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            stacks.append((match.group("stack").split(";"), int(match.group("count"))))
    return stacks


def function_name(frame: str) -> str:
    """`run (uvicorn/main.py:632)` -> `run (uvicorn/main.py)`: one entry per function, not per line."""
    return _FRAME_LINE.sub(")", frame)


def _first_match(frames: list[str], categories: Sequence[tuple[str, tuple[str, ...]]]) -> str | None:
    for frame in reversed(frames):
        found = next((name for name, needles in categories if any(n in frame for n in needles)), None)
        if found:
            return found
    return None


def categorise(
    stacks: Sequence[tuple[list[str], int]],
    categories: Sequence[tuple[str, tuple[str, ...]]],
    fallbacks: Sequence[tuple[str, tuple[str, ...]]] = (),
) -> Counter[str]:
    """Samples per category: the innermost frame matching `categories`, else the innermost matching
    `fallbacks`, else "other"."""
    shares: Counter[str] = Counter()
    for frames, count in stacks:
        label = _first_match(frames, categories) or _first_match(frames, fallbacks) or "other (event loop)"
        shares[label] += count
    return shares


def self_time(stacks: Sequence[tuple[list[str], int]]) -> Counter[str]:
    leaves: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            leaves[function_name(frames[-1])] += count
    return leaves


def render(stacks: Sequence[tuple[list[str], int]], cpu_ms_per_request: float | None = None, top: int = 15) -> str:
    total = sum(count for _, count in stacks) or 1
    lines = [
        "| where | share of samples |" + (" ms per request |" if cpu_ms_per_request else ""),
        "|---|---|" + ("---|" if cpu_ms_per_request else ""),
    ]
    for label, count in categorise(stacks, GATEWAY_CATEGORIES, GATEWAY_FALLBACKS).most_common():
        row = f"| {label} | {count / total:.1%} |"
        if cpu_ms_per_request:
            row += f" {count / total * cpu_ms_per_request:.3f} |"
        lines.append(row)
    lines += ["", "| function (self time) | share |", "|---|---|"]
    for name, count in self_time(stacks).most_common(top):
        lines.append(f"| `{name}` | {count / total:.1%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--cpu-ms-per-request", type=float, default=None)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    print(render(parse_collapsed(args.stacks.read_text()), args.cpu_ms_per_request, args.top), end="")


if __name__ == "__main__":
    main()

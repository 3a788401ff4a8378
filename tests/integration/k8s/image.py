"""What the Dockerfile puts into the image, reproduced in a directory without a container engine: the
build stage's `COPY <src> /app/...` sources, filtered through .dockerignore (Docker's rules: the last
matching pattern wins, `!` re-includes, a pattern matching a directory covers what is inside), and the
final stage's USER, WORKDIR, EXPOSE and PYTHONPATH. The run test starts the services from that tree, so
a package or migration the image would lack fails there, not in a cluster."""

from __future__ import annotations

import fnmatch
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.k8s.manifests import REPO

APP = "/app"


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def stages(dockerfile: Path = REPO / "Dockerfile") -> list[Stage]:
    """(INSTRUCTION, arguments) per stage, continuation lines joined, comments dropped."""
    result: list[Stage] = []
    logical = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, arguments = logical.partition(" ")
        logical = ""
        instruction = instruction.upper()
        if instruction == "FROM":
            words = arguments.split()
            result.append(Stage(words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(result))))
        result[-1].instructions.append((instruction, arguments.strip()))
    return result


def _patterns(dockerignore: Path = REPO / ".dockerignore") -> list[tuple[bool, str]]:
    """(include, pattern) lines of .dockerignore in order."""
    lines = [line.strip() for line in dockerignore.read_text().splitlines()]
    return [(line.startswith("!"), line.lstrip("!").rstrip("/")) for line in lines if line and not line.startswith("#")]


def _matches(pattern: str, relative: str) -> bool:
    parts = relative.split("/")
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        if fnmatch.fnmatchcase(prefix, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(parts[depth - 1], pattern[3:]):
            return True
    return False


def in_build_context(relative: str) -> bool:
    """Whether .dockerignore lets this path (relative to the repository) into the build context."""
    included = True
    for include, pattern in _patterns():
        if _matches(pattern, relative):
            included = include
    return included


def _copies(stage: Stage) -> list[tuple[list[str], str]]:
    copies = []
    for instruction, arguments in stage.instructions:
        if instruction == "COPY":
            words = shlex.split(arguments)
            if not any(w.startswith("--from") for w in words):
                words = [w for w in words if not w.startswith("--")]
                copies.append((words[:-1], words[-1]))
    return copies


def context_sources() -> list[str]:
    """Every path that a COPY takes from the build context."""
    return [src.rstrip("/") for stage in stages() for sources, _ in _copies(stage) for src in sources]


def build_app_tree(root: Path) -> Path:
    """The image's /app as `root`/app: the build stage's COPYs into /app, with .dockerignore applied."""
    build, final = stages()[0], stages()[-1]
    assert ("COPY", f"--from={build.name} {APP} {APP}") in final.instructions, "the final stage copies /app"
    app = root / APP.lstrip("/")
    for sources, destination in _copies(build):
        if not destination.startswith(APP + "/"):
            continue
        for source in sources:
            source = source.rstrip("/")
            target = app / destination[len(APP) + 1 :].rstrip("/")
            for path in sorted((REPO / source).rglob("*")):
                relative = path.relative_to(REPO).as_posix()
                if path.is_file() and in_build_context(relative):
                    (target / path.relative_to(REPO / source)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.relative_to(REPO / source))
    return app


def runtime(instruction: str) -> list[str]:
    """The final stage's arguments of one instruction (USER, WORKDIR, EXPOSE, ENV), in order."""
    return [arguments for name, arguments in stages()[-1].instructions if name == instruction]


def runtime_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in runtime("ENV"):
        for word in shlex.split(arguments):
            key, _, value = word.partition("=")
            env[key] = value
    return env

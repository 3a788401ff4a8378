"""The lock files (requirements/*.lock, written by `make lock`): complete, hashed, consistent with
pyproject.toml and with each other, and what this virtualenv actually holds (bootstrap installs from them)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[3]
RUNTIME, DEV = REPO / "requirements" / "runtime.lock", REPO / "requirements" / "dev.lock"


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: int


def pins(lock: Path) -> dict[str, Pin]:
    """The lock's entries by canonical name (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", lock.read_text())
    result = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        hashes = len(re.findall(r"--hash=sha256:[0-9a-f]{64}", line))
        requirement = Requirement(re.sub(r"\s--hash=\S+", "", line).strip())
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{lock.name}: {line[:80]} is not pinned"
        result[canonicalize_name(requirement.name)] = Pin(requirement.name, spec.version, requirement.marker, hashes)
    return result


def project() -> dict[str, list[str]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"runtime": data["dependencies"], "dev": data["optional-dependencies"]["dev"]}


@pytest.mark.parametrize("lock", [RUNTIME, DEV], ids=lambda p: p.name)
def test_every_pin_is_exact_and_hashed(lock: Path) -> None:
    locked = pins(lock)
    assert locked
    assert [p.name for p in locked.values() if p.hashes == 0] == []


def test_the_runtime_lock_is_the_dev_lock_restricted_to_the_services() -> None:
    runtime, dev = pins(RUNTIME), pins(DEV)
    assert set(runtime) <= set(dev)
    assert {n: p.version for n, p in runtime.items()} == {n: dev[n].version for n in runtime}


@pytest.mark.parametrize(
    ("lock", "groups"), [(RUNTIME, ("runtime",)), (DEV, ("runtime", "dev"))], ids=["runtime", "dev"]
)
def test_every_declared_dependency_is_locked_within_its_range(lock: Path, groups: tuple[str, ...]) -> None:
    """A pyproject.toml edit without `make lock` (scripts/lock.sh --keep keeps the other pins) fails here."""
    locked = pins(lock)
    for group in groups:
        for text in project()[group]:
            requirement = Requirement(text)
            pin = locked.get(canonicalize_name(requirement.name))
            assert pin is not None, f"{requirement.name} ({group}) is not in {lock.name}: run `make lock`"
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"{lock.name} pins {requirement.name}=={pin.version}, outside {text!r}: run `make lock`"
            )


def test_this_virtualenv_holds_exactly_the_dev_lock() -> None:
    """Bootstrap installs from the lock; a version here that differs from it means it did not."""
    differ = {}
    for pin in pins(DEV).values():
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        try:
            installed = version(pin.name)
        except PackageNotFoundError:
            installed = "missing"
        if installed == "missing" or Version(installed) != Version(pin.version):
            differ[pin.name] = (pin.version, installed)
    assert differ == {}, "versions differ from requirements/dev.lock (locked, installed): run `make bootstrap`"


def test_the_image_and_bootstrap_install_from_the_locks_with_hashes() -> None:
    """Each install path reads its lock in hash-checking mode, and nothing else decides a version."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY requirements/runtime.lock ./" in dockerfile
    assert "pip install --require-hashes --only-binary=:all: -r runtime.lock" in dockerfile
    assert "pyproject.toml" not in dockerfile.split("FROM")[1], "the build stage resolves from pyproject.toml"
    bootstrap = (REPO / "scripts" / "bootstrap.sh").read_text()
    assert "lock=requirements/dev.lock" in bootstrap
    assert 'install --require-hashes -r "$lock"' in bootstrap
    assert "install --no-deps --no-build-isolation -e ." in bootstrap

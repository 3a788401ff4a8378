"""The declared markers are used: every test under tests/integration and tests/e2e is `integration`, those
under tests/e2e are `e2e` too, and no unit test is either (tests/conftest.py sets them from the folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Markers:
    """A plugin for a collect-only run: each collected file's marker names."""

    def __init__(self) -> None:
        self.by_file: dict[str, set[str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            names = {mark.name for mark in item.iter_markers()} & {"integration", "e2e"}
            self.by_file.setdefault(item.path.relative_to(ROOT).as_posix(), set()).update(names)


def test_markers_follow_the_folder() -> None:
    files = {
        "tests/integration/test_grpc_server_factory.py": {"integration"},
        "tests/e2e/test_trading_journey.py": {"integration", "e2e"},
        "tests/unit/mesh/test_units.py": set(),
    }
    markers = Markers()
    code = pytest.main(
        [
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(ROOT),
            *(str(ROOT / name) for name in files),
        ],
        plugins=[markers],
    )
    assert code == pytest.ExitCode.OK
    assert markers.by_file == files

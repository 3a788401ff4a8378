"""Named steps of a browser journey: each ends with a screenshot in the test's artefact directory, and
a failing step raises an AssertionError that names the step, the element it missed and the screenshot."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page


class Steps:
    def __init__(self, page: Page, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.count = 0

    def shot(self, name: str) -> Path:
        path = self.directory / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.count += 1
        try:
            yield
        except Exception as exc:
            try:
                shot = str(self.shot(f"{name} FAILED"))
            except Exception as shot_error:  # the page may be gone; the step's own error matters more
                shot = f"no screenshot ({shot_error})"
            raise AssertionError(f"step {self.count} '{name}' failed: {exc}\nscreenshot: {shot}") from exc
        self.shot(name)

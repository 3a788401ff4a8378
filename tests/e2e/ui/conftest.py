"""One headless Debian chromium (the `chromium` on PATH, installed by scripts/bootstrap.sh) for the
browser tests, driven by Playwright; every step's screenshot goes to the test's tmp directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

# A change reaches the page through several processes (fake venue → pooler → Redis → engine → gateway →
# socket): on a machine busy with other suites that takes longer than expect's 5 s default now and then.
# Waiting longer changes nothing when the page is right and still fails when it is wrong.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "chromium is not on PATH: run scripts/bootstrap.sh (it installs Debian's chromium)"
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root in CI, where chromium refuses its sandbox; a container's
        # small /dev/shm would crash the renderer, so shared memory goes to /tmp
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()

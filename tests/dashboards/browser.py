"""Headless Chromium (Debian's) through Playwright, and the centre under waitress, for page tests.

Pages run under the centre's real CSP (script-src 'self'), so tests read the page with
``page.evaluate`` (not ``wait_for_function``, which needs eval) and poll in Python.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.support.inproc_server import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    if not (ROOT / "node_modules" / "echarts" / "dist" / "echarts.min.js").exists():
        pytest.skip("ECharts not installed: run npm install (scripts/setup.sh)")
    if shutil.which("fc-list") is None:
        return


def serve(app: Flask, threads: int = 8) -> AbstractContextManager[str]:
    """The app under waitress on a free loopback port; yields its base URL."""
    return serve_in_thread(app, threads)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until(page: Any, js: str, timeout: float = 15.0, what: str = "") -> Any:
    """Evaluate ``js`` in the page until it is truthy; returns its value or fails naming ``what``."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = page.evaluate(js)
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or js} (last value {value!r})")


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def login(page: Any, base: str, name: str, password: str) -> None:
    """Sign in through the real form."""
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()

"""What the browser tests and ``screenshots.py`` share: Debian's chromium, launched the one
way that works on a machine with no network, and the app served by uvicorn on loopback.

Playwright's own browser download cannot work here (no CDN), so we only ever start the
distribution's ``/usr/bin/chromium`` through ``executable_path``; ``make browser-deps``
installs it. The background-networking flags stop chromium from calling home at start
(those connections are refused on this machine, many at a time).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from syndication.embedded_redis import free_port

try:
    from playwright.sync_api import expect
except ImportError:  # the ``playwright`` fixture skips (fails under CI) and says why
    expect = None

CHROMIUM = Path(os.environ.get("SYNDICATION_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in CI: chromium refuses its sandbox as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
INSTALL_HINT = (
    "run `make browser-deps` as root, or: sudo apt-get install --no-install-recommends chromium"
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is missing: {INSTALL_HINT}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: run `make venv` (it is in the dev extras)"
    return None


def launch(playwright: Any) -> Any:
    """Headless chromium. ``launch`` gives every browser a new, empty profile directory of
    its own (Playwright's temp ``--user-data-dir``), removed when the browser closes."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


class LiveServer:
    """The ASGI app under uvicorn in a thread, on a free loopback port, until ``stop()``.

    A thread rather than a process: the test's Context (its key prefix, its recorded
    events) is the app's, so a test can look in the store right after a click.
    """

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, patience: float = 30) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + patience
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn not listening on port {self.port} yet")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class Shots:
    """Numbered PNGs of each step: ``<folder>/01-signup-form.png``, ``02-…``."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def __call__(self, page: Any, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

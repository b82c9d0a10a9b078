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
from pathlib import Path
from typing import Any

import uvicorn

from syndication.embedded_redis import free_port
from tests.support import wait_for

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
        """Start serving; returns once uvicorn says it listens (``server.started``)."""
        self.thread.start()

        def listening() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            return bool(self.server.started)

        try:
            wait_for(listening, timeout=patience, interval=0.02)
        except AssertionError:
            raise RuntimeError(f"uvicorn not listening on port {self.port} yet") from None
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
        """Screenshot the step, after checking the page is accessible and fits the screen."""
        problems = accessibility_problems(page)
        assert not problems, f"{step} ({page.url}): {problems}"
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


# What a screen-reader or keyboard user needs of every page we show, checked in the page
# itself: a language, one main heading, a label for every field, alt text, named controls,
# and no sideways scrolling (the pages must reflow on a phone).
_A11Y_SCRIPT = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("<html> has no lang");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} <h1> elements`);
  if (!document.title.trim()) problems.push("empty <title>");
  const named = (el) => (el.getAttribute("aria-label") || "").trim() ||
      el.getAttribute("aria-labelledby") || (el.labels && el.labels.length) ||
      (el.getAttribute("title") || "").trim();
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset"].includes(type)) continue;
    if (!named(el)) problems.push(`field without a label: ${el.outerHTML.slice(0, 80)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`img without alt: ${img.src.slice(0, 80)}`);
  }
  for (const el of document.querySelectorAll("a[href], button")) {
    if (!el.textContent.trim() && !named(el) && !el.querySelector("img[alt]:not([alt=''])"))
      problems.push(`control without a name: ${el.outerHTML.slice(0, 80)}`);
  }
  const wide = document.scrollingElement.scrollWidth - window.innerWidth;
  if (wide > 1) problems.push(`page is ${wide}px wider than the screen`);
  return problems;
}"""


def accessibility_problems(page: Any) -> list[str]:
    """The page's accessibility problems (see ``_A11Y_SCRIPT``); empty when there are none."""
    return list(page.evaluate(_A11Y_SCRIPT))

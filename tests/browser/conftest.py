"""Browser fixtures: one headless chromium per session, the real app on a loopback port.

The app runs on the test's own Redis prefix (``tests/conftest.py``'s ``context``) with
``SYNDICATION_SMTP_URL`` pointing at the scripted SMTP server (``smtp``), so the web process
sends its confirmation email over real SMTP and the test reads it back.

The app's clock is the system clock, not the ``clock`` fixture's fixed 2026-12-01: chromium
is a process of its own that reads the machine's clock, and it keeps the app's cookies by it
(a ``Max-Age`` is counted from the browser's now; an ``Expires`` date is compared with it), so
the app that sets them must tell time the same way. Tests take every "now" they need from
``live_context.clock()``, the one source the app, the browser and the test share; under
``make test-shifted`` all three are moved together.

Without ``/usr/bin/chromium`` the tests skip and say how to install it (``make test`` does
that itself as root); under CI (``CI=true``) a missing browser fails instead: there it must run.
Screenshots of each step go to ``tests/artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from syndication.clock import system_clock
from syndication.config import Settings, load_settings
from syndication.context import Context
from syndication.embedded_redis import free_port
from syndication.events import RecordingEvents
from syndication.web.app import create_app

from .live import PHONE, LiveServer, Shots, launch, missing_browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
ADMIN_PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    reason = missing_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    """One chromium for the whole session; each test opens its own contexts (cookies)."""
    instance = launch(playwright)
    yield instance
    instance.close()


@pytest.fixture
def live_settings(env: dict[str, str], smtp: Any) -> tuple[Settings, int]:
    port = free_port()
    settings = load_settings(
        {
            **env,
            "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SYNDICATION_SMTP_URL": smtp.url,
            "SYNDICATION_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
    )
    return settings, port


@pytest.fixture
def live_context(live_settings: tuple[Settings, int], redis_client: redis.Redis) -> Context:
    """The live app's Context, on the system clock, the browser's (see the module's doc):
    sessions, CSRF and link tokens are signed and checked on it, and its cookies' lifetimes
    are what chromium counts them to be. No worker runs here: the app sends confirmation
    emails itself (``inline_confirmations``)."""
    return Context(
        live_settings[0],
        RecordingEvents(),
        redis_client,
        clock=system_clock,
        inline_confirmations=True,
    )


@pytest.fixture
def live(live_settings: tuple[Settings, int], live_context: Context) -> Iterator[LiveServer]:
    server = LiveServer(create_app(live_context), live_settings[1]).start()
    yield server
    server.stop()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    return Shots(ARTIFACTS / name)


@pytest.fixture
def new_page(browser: Any, live: LiveServer) -> Iterator[Callable[..., Any]]:
    """``new_page(phone=False, **context_options)``: a page in a fresh browser context
    (its own cookies) whose relative URLs go to the live server."""
    contexts: list[Any] = []

    def make(phone: bool = False, **options: Any) -> Any:
        if phone:
            options.setdefault("viewport", PHONE)
            options.setdefault("device_scale_factor", 2)
            options.setdefault("is_mobile", True)
            options.setdefault("has_touch", True)
        context = browser.new_context(base_url=live.url, **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")

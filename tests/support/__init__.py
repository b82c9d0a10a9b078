"""What tests share that is not a fixture: paths, sample data, waiting for an event.

Fixtures live in the conftest.py at the level that needs them (tests/conftest.py: Redis,
settings, the clock, a Context; tests/workers/conftest.py: worker processes); the helpers
they and the tests import live here, so no test imports another test module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
EXAMPLE_CONFIG = ROOT / "examples" / "insightcrime.toml"
SEED_DIR = ROOT / "examples" / "articles"
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"


def article_data(n: int = 1, **overrides: object) -> dict[str, object]:
    """A valid article as the API takes it; ``n`` varies the id, URL and dates."""
    data: dict[str, object] = {
        "url": f"https://insightcrime.org/news/brief/sample-story-{n}/",
        "title": f"Sample story {n}",
        "summary": f"Summary of story {n}.",
        "body_html": f"<p>Body of story {n}.</p><p>Second paragraph.</p>",
        "authors": ["Sergio Saffón"],
        "published_at": f"2026-11-{(n % 28) + 1:02d}T12:00:00+00:00",
        "language": "en",
        "section": "Brief",
        "topics": ["Coca"],
    }
    data.update(overrides)
    return data


def wait_for(predicate: object, timeout: float = 30, interval: float = 0.05) -> object:
    """Poll until ``predicate()`` is truthy: a wait, not a speed assertion."""
    import time

    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def run_in_own_loop(coroutine: Any) -> Any:
    """``asyncio.run`` in a thread of its own: the browser tests leave an event loop running
    in the main thread, where ``asyncio.run`` refuses to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def tamper(token: str) -> str:
    """``token`` with one character of its signature changed so that the bytes change too.

    Editing the last base64url character is not enough: its low bits may be padding, so a
    different character can decode to the same MAC (and the "tampered" token stays valid)."""
    i = len(token) - 6
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1 :]

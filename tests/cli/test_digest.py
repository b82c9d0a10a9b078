"""``digest preview|send|status|pause|resume|cancel`` through the real parser and services."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest
import redis

from syndication.cli_digest import register
from syndication.clock import Clock
from syndication.config import Settings
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers


def run(settings: Settings, clock: Clock, *argv: str) -> int:
    """The command as the CLI runs it, but on the test's clock (the CLI's own is the system's)."""
    parser = argparse.ArgumentParser(prog="syndication")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.fn(args, settings, clock=clock))


@pytest.fixture
def data(redis_client: redis.Redis, prefix: str, clock: ManualClock) -> Iterator[None]:
    segments = (("en", ()), ("en", ("coca",)))
    add_subscribers(redis_client, prefix, 12, now=clock(), segments=segments)
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}, {"topics": ["Peru"]}], now=clock())
    yield


def test_preview_send_status_controls(
    settings: Settings, data: None, capsys: pytest.CaptureFixture[str], clock: ManualClock
) -> None:
    assert run(settings, clock, "digest", "preview", "--json") == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["recipients"] == 12 and len(preview["segments"]) == 2
    assert all(seg["html_size"] < 90_000 for seg in preview["segments"])

    assert run(settings, clock, "digest", "send", "--draft", "--json") == 0
    sent = json.loads(capsys.readouterr().out)
    edition = sent["edition"]
    assert sent["created"] and sent["status"]["status"] == "draft"
    assert run(settings, clock, "digest", "send") == 0
    assert "exists already" in capsys.readouterr().out

    assert run(settings, clock, "digest", "status", edition, "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["counts"]["pending"] == status["counts"]["total"] == 12
    assert run(settings, clock, "digest", "status") == 0
    assert edition in capsys.readouterr().out

    assert run(settings, clock, "digest", "pause", edition) == 0
    assert "draft → paused" in capsys.readouterr().out
    assert run(settings, clock, "digest", "cancel", edition, "--json") == 0
    assert json.loads(capsys.readouterr().out)["to"] == "cancelled"
    assert run(settings, clock, "digest", "resume", edition) == 1
    assert "cannot resume an edition that is cancelled" in capsys.readouterr().err
    assert run(settings, clock, "digest", "pause", "nope") == 1

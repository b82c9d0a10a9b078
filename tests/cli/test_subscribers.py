"""``subscribers import|export|stats`` through the CLI's parser, on a real Redis.

Run in-process (``register`` is wired into ``cli.build_parser`` by the lead); the command
functions are the ones the CLI calls, with the same settings and context.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndication.cli.subscribers import register
from syndication.clock import Clock
from syndication.config import Settings
from syndication.context import Context
from syndication.store.subscribers import Subscriber, SubscriberStore
from tests.support.clock import ManualClock

HEADER = "email,status,frequency,topics,language,created_at,confirmed_at,consent_ip,consent_source"
ANA = (
    "ana@example.org,confirmed,daily,coca peru,es,2024-03-01T10:00:00+00:00,"
    "2024-03-01T10:05:00+00:00,192.0.2.1,old provider form"
)
ROWS = f"""{HEADER}
{ANA}
Ben@Example.ORG,,weekly,,en,2024-04-01T09:00:00Z,2024-04-01T09:30:00Z,,
carla@example.org,confirmed,daily,,en,2024-05-01T00:00:00+00:00,,,
not-an-address,confirmed,daily,,en,,2024-05-01T00:00:00+00:00,,
dan@example.org,unsubscribed,daily,,en,,,,
eve@example.org,confirmed,instant,,en,,2024-06-01T00:00:00+00:00,,
"""


def run(settings: Settings, clock: Clock, *argv: str) -> int:
    """The command as the CLI runs it, but on the test's clock (the CLI's own is the system's)."""
    parser = argparse.ArgumentParser(prog="syndication")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.fn(args, settings, clock=clock))


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "list.csv"
    path.write_text(ROWS, encoding="utf-8")
    return path


def test_import_keeps_consent_and_honours_suppression_on_reimport(
    settings, context: Context, csv_file, capsys, clock: ManualClock
):
    store = SubscriberStore(context.client, settings.key_prefix)
    store.suppress("EVE@example.org", "complaint", datetime(2025, 1, 1, tzinfo=UTC))
    assert run(settings, clock, "subscribers", "import", str(csv_file), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 6
    assert report["outcomes"] == {
        "created": 2,
        "error": 2,
        "suppressed": 1,
        "suppression_added": 1,
    }
    assert [e["line"] for e in report["errors"]] == [4, 5]
    assert "confirmed_at" in report["errors"][0]["error"]
    ana = store.get_by_email("ana@example.org")
    assert ana is not None and ana.status == "confirmed" and ana.topics == ("coca", "peru")
    assert ana.confirmed_at == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert ana.consent_ip == "192.0.2.1" and ana.consent_source == "old provider form"
    ben = store.get_by_email("ben@example.org")
    assert ben is not None and ben.email == "Ben@example.org" and ben.frequency == "weekly"
    assert store.is_suppressed("dan@example.org") and store.get_by_email("dan@example.org") is None
    assert store.get_by_email("eve@example.org") is None

    # Ana unsubscribes (one-click); importing the same old file again must not bring her back.
    store.unsubscribe(ana.id, clock())
    assert run(settings, clock, "subscribers", "import", str(csv_file)) == 1
    out = capsys.readouterr().out
    assert out.startswith("6 row(s): 2 error, 1 exists, 3 suppressed")
    assert "  line 4: a confirmed row needs confirmed_at" in out
    assert [s.email for s in store.iter_active("daily")] == []
    assert [s.email for s in store.iter_active("weekly")] == ["Ben@example.org"]


def test_export_then_import_elsewhere_round_trips(
    settings, context: Context, csv_file, tmp_path, capsys, clock: ManualClock
):
    run(settings, clock, "subscribers", "import", str(csv_file))
    store = SubscriberStore(context.client, settings.key_prefix)
    store.suppress("bounced@example.org", "hard bounce", datetime(2025, 2, 2, tzinfo=UTC))
    capsys.readouterr()
    out = tmp_path / "export.csv"
    assert run(settings, clock, "subscribers", "export", "--output", str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted(r["email"] for r in rows) == [
        "Ben@example.org",
        "ana@example.org",
        "bounced@example.org",
        "dan@example.org",
        "eve@example.org",
    ]

    elsewhere = dataclasses.replace(settings, key_prefix=settings.key_prefix + "copy:")
    assert run(elsewhere, clock, "subscribers", "import", str(out), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcomes"] == {"created": 3, "suppression_added": 2}
    copy = SubscriberStore(context.client, elsewhere.key_prefix)
    for email in ("ana@example.org", "Ben@example.org", "eve@example.org"):
        a, b = store.get_by_email(email), copy.get_by_email(email)
        assert a is not None and b is not None
        for name in (
            "status",
            "frequency",
            "topics",
            "language",
            "created_at",
            "confirmed_at",
            "consent_ip",
            "consent_source",
        ):
            assert getattr(a, name) == getattr(b, name), name
    assert copy.suppression("bounced@example.org").reason == "hard bounce"  # type: ignore[union-attr]
    assert copy.suppression("dan@example.org") is not None

    assert run(settings, clock, "subscribers", "export", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["count"] == 5 and {r["status"] for r in doc["subscribers"]} == {
        "confirmed",
        "unsubscribed",
    }
    assert run(settings, clock, "subscribers", "stats", "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["active"] == {"daily": 1, "weekly": 1, "instant": 1}
    assert stats["suppressed"] == 2


def test_export_neutralises_spreadsheet_formulas(
    settings, context: Context, tmp_path, capsys, clock: ManualClock
):
    path = tmp_path / "evil.csv"
    path.write_text(
        "email,confirmed_at,consent_source\n"
        'x@example.org,2024-01-01T00:00:00Z,=HYPERLINK("http://evil")\n',
        encoding="utf-8",
    )
    assert run(settings, clock, "subscribers", "import", str(path)) == 0
    capsys.readouterr()
    assert run(settings, clock, "subscribers", "export") == 0
    exported = capsys.readouterr().out
    assert "'=HYPERLINK" in exported
    sub = SubscriberStore(context.client, settings.key_prefix).get_by_email("x@example.org")
    assert sub is not None and sub.consent_source.startswith("=HYPERLINK")


def test_unreadable_file_is_one_line_and_exit_1(settings, tmp_path, capsys, clock: ManualClock):
    assert run(settings, clock, "subscribers", "import", str(tmp_path / "missing.csv")) == 1
    assert capsys.readouterr().err.startswith("error: cannot read")


def test_migrate_upgrades_old_records_once(settings, context: Context, capsys, clock: ManualClock):
    from tests.support.legacy import legacy_subscriber_write

    when = datetime(2024, 3, 1, tzinfo=UTC)
    old = Subscriber(
        "00ab", "old@example.org", "confirmed", "daily", (), "en", when, when, 1
    )  # fmt: skip
    legacy_subscriber_write(context.client, settings.key_prefix, old)
    assert run(settings, clock, "subscribers", "migrate", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"upgraded": 1}
    assert run(settings, clock, "subscribers", "migrate", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"upgraded": 0}
    assert SubscriberStore(context.client, settings.key_prefix).get("00ab") == old

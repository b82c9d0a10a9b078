"""``digest preview|send|status|pause|resume|cancel|resend`` through the real parser and
services (resend: entries made uncertain by a real SMTP server dropping after DATA)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from syndication.cli.digest import register
from syndication.clock import Clock
from syndication.config import Settings
from syndication.store.editions import EditionStatus, EditionStore, EntryState, Mark
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all, uncertain_edition
from tests.support.smtp import ScriptedSmtp


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

    assert run(settings, clock, "digest", "resend", edition, "--all", "--yes") == 1
    assert "cannot resend entries of an edition that is draft" in capsys.readouterr().err
    assert run(settings, clock, "digest", "pause", edition) == 0
    assert "draft → paused" in capsys.readouterr().out
    assert run(settings, clock, "digest", "cancel", edition, "--json") == 0
    assert json.loads(capsys.readouterr().out)["to"] == "cancelled"
    assert run(settings, clock, "digest", "resume", edition) == 1
    assert "cannot resume an edition that is cancelled" in capsys.readouterr().err
    assert run(settings, clock, "digest", "pause", "nope") == 1


def test_preview_counts_active_readers_apart_and_warns_of_empty_segments(
    settings: Settings,
    data: None,
    redis_client: redis.Redis,
    prefix: str,
    capsys: pytest.CaptureFixture[str],
    clock: ManualClock,
) -> None:
    """Issue #15: readers whose language has no article in the period are active but get
    nothing; the preview says so instead of a bare "0 recipient(s)"."""
    add_subscribers(redis_client, prefix, 3, now=clock(), segments=(("es", ()),), domain="es.org")
    assert run(settings, clock, "digest", "preview") == 0
    out, err = capsys.readouterr()
    assert "15 active reader(s), 12 would get it" in out
    assert "es / all topics: 3 reader(s), no articles" in out
    assert "3 reader(s) of daily/es get nothing: no articles in the period" in err
    assert run(settings, clock, "digest", "preview", "--json") == 0
    preview = json.loads(capsys.readouterr().out)
    assert (preview["active"], preview["recipients"]) == (15, 12)
    assert preview["empty"] == [{"language": "es", "topics": [], "readers": 3}]


def test_test_send_to_one_reader_after_the_period_edition(
    settings: Settings,
    data: None,
    smtp: ScriptedSmtp,
    capsys: pytest.CaptureFixture[str],
    clock: ManualClock,
) -> None:
    """``send --to``: the period's edition exists, yet one reader gets its content now,
    through the same rendering and SMTP, and nothing is recorded."""
    settings = dataclasses.replace(settings, smtp_url=smtp.url)
    assert run(settings, clock, "digest", "send", "--draft", "--json") == 0
    edition = json.loads(capsys.readouterr().out)["edition"]
    assert run(settings, clock, "digest", "send") == 0
    assert "--to ADDRESS" in capsys.readouterr().out  # the way out is named

    assert run(settings, clock, "digest", "send", "--to", "reader00001@example.org") == 0
    out = capsys.readouterr().out
    assert out.startswith("TEST send to reader00001@example.org: sent")
    assert f"the content of {edition}" in out and "not recorded" in out
    (message,) = smtp.messages()
    assert message["To"] == "reader00001@example.org"
    assert "test-" in message["Message-ID"] and message["List-Unsubscribe"]
    text = message.get_body(("plain",))
    assert text is not None and "Sample story 1" in text.get_content()
    assert run(settings, clock, "digest", "status", edition, "--json") == 0
    assert json.loads(capsys.readouterr().out)["counts"]["sent"] == 0

    assert run(settings, clock, "digest", "send", "--to", "nobody@example.org") == 2
    assert "TEST send not made: nobody@example.org is not a confirmed subscriber" in (
        capsys.readouterr().err
    )
    assert smtp.count() == 1


class Terminal(io.StringIO):
    """Standard input as an operator's terminal: what they type, and ``isatty()``."""

    def isatty(self) -> bool:
        return True


def test_resend_chosen_uncertain_entries(
    settings: Settings,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sender, edition, subs = uncertain_edition(
        settings, redis_client, smtp, clock, readers=6, uncertain=(1, 3, 4)
    )
    store = sender.editions
    first, second, third = subs[1], subs[3], subs[4]
    assert store.members(edition, EntryState.UNCERTAIN) == sorted([first.id, second.id, third.id])
    assert smtp.per_recipient()[first.email] == 1  # it did arrive, once

    # status lists them and says how to resend
    assert run(settings, clock, "digest", "status", edition) == 0
    out = capsys.readouterr().out
    assert "3 uncertain, 0 cancelled" in out
    assert f"uncertain: {first.id}" in out and f"digest resend {edition}" in out

    # usage and input errors: one line each, nothing changes
    assert run(settings, clock, "digest", "resend", edition) == 2
    assert "--all" in capsys.readouterr().err
    assert run(settings, clock, "digest", "resend", edition, first.id, "--all") == 2
    capsys.readouterr()
    assert run(settings, clock, "digest", "resend", "daily-1999-01-01", first.id) == 1
    assert capsys.readouterr().err.strip() == "error: no edition daily-1999-01-01"
    assert run(settings, clock, "digest", "resend", edition, subs[0].id, "nobody") == 1
    err = capsys.readouterr().err
    assert "nothing to resend" in err
    assert f"{subs[0].id} (sent)" in err and "nobody (not in this edition)" in err

    # no terminal and no --yes: the risk and the entries, then a refusal
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    assert run(settings, clock, "digest", "resend", edition, first.id) == 2
    seen = capsys.readouterr()
    assert "may already have this message" in seen.out and "twice" in seen.out
    assert first.id in seen.out and first.email in seen.out
    assert "pass --yes" in seen.err
    # a terminal, and the operator says no
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert run(settings, clock, "digest", "resend", edition, first.id) == 1
    assert "nothing was resent" in capsys.readouterr().err
    assert store.entry(edition, first.id)["state"] == "uncertain"
    status = store.get(edition)
    assert status is not None and status.status is EditionStatus.DONE

    # a terminal, and the operator says yes: one entry back to pending, the edition reopens
    monkeypatch.setattr(sys, "stdin", Terminal("yes\n"))
    clock.advance(minutes=10)
    assert run(settings, clock, "digest", "resend", edition, first.id, subs[0].id) == 0
    seen = capsys.readouterr()
    assert "Resend 1 message(s)" in seen.err
    assert f"{edition}: 1 uncertain message(s) queued to be sent again (edition sending)" in (
        seen.out
    )
    assert f"skipped: {subs[0].id} (sent, not uncertain)" in seen.out
    entry = store.entry(edition, first.id)
    assert entry["state"] == "pending"
    at = clock().isoformat(timespec="seconds")
    assert entry["detail"].startswith("resent by cli")
    assert entry["detail"].endswith(f" at {at} (was uncertain)")
    status = store.get(edition)
    assert status is not None and status.status is EditionStatus.SENDING
    # the senders were queued for the workers (the mail queue on the broker)
    assert redis_client.llen(f"{settings.key_prefix}celery:mail") >= 1

    # --yes --json, every remaining uncertain one; no question asked
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run(settings, clock, "digest", "resend", edition, "--all", "--yes", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["resent"] == 2 and data["skipped"] == [] and data["status"] == "sending"
    assert store.members(edition, EntryState.UNCERTAIN) == []

    # the workers' part, in-process: each of the three readers now has it twice
    finished = send_all(sender, edition)
    assert finished.status is EditionStatus.DONE and finished.counts["sent"] == 6
    per = smtp.per_recipient()
    assert [per[s.email] for s in (first, second, third)] == [2, 2, 2]
    assert run(settings, clock, "digest", "resend", edition, "--all", "--yes") == 0
    assert "nothing to resend" in capsys.readouterr().out


def test_cancelled_and_repeated_entries_in_status(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    data: None,
    capsys: pytest.CaptureFixture[str],
    clock: ManualClock,
) -> None:
    assert run(settings, clock, "digest", "send", "--json") == 0
    edition = json.loads(capsys.readouterr().out)["edition"]
    store = EditionStore(redis_client, prefix)
    # one sender has two entries: one sent, one in flight that another sender reports as
    # delivered (Redis lost the record of that delivery): it may reach the reader twice
    claim = store.claim(edition, 2, "sender-a")
    done, flying = (r.subscriber_id for r in claim.recipients)
    store.step(edition, "sender-a", None, done)
    store.step(edition, "sender-a", (done, Mark.SENT, "250 ok"), flying)
    replayed = store.advance(edition, "sender-b", (flying, Mark.SENT, "250 ok"), replay=True)
    assert replayed.mark == "repeated"

    assert run(settings, clock, "digest", "cancel", edition) == 0
    assert "sending → cancelled" in capsys.readouterr().out
    assert run(settings, clock, "digest", "status", edition) == 0
    out = capsys.readouterr().out
    assert f"{edition}: cancelled, 1/12 sent" in out and "10 cancelled" in out
    assert f"repeated: {flying} may have been sent twice" in out
    assert run(settings, clock, "digest", "status", edition, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["cancelled"] == 10 and report["counts"]["sending"] == 1
    assert list(report["repeated"]) == [flying]
    states = store.states(edition)
    assert sorted(states.values()).count("cancelled") == 10
    # the sender holding the last one hands it back: it ends cancelled too, never pending
    assert store.release(edition, "sender-a", [flying], abort=True) == 1
    assert store.entry(edition, flying)["state"] == "cancelled"
    assert run(settings, clock, "digest", "status") == 0
    assert "11 cancelled" in capsys.readouterr().out

    # a cancelled edition takes no resends
    assert run(settings, clock, "digest", "resend", edition, "--all", "--yes") == 1
    assert "cannot resend entries of an edition that is cancelled" in capsys.readouterr().err


def test_compact_archives_and_keeps_what_operators_read(
    settings: Settings,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """``digest compact --archive``: the sent entries go to a gzipped JSON-lines file and
    leave Redis; ``status`` still shows the numbers, marked compacted; resend refuses a sent
    reader and still takes an uncertain one. The ledger finished on Redis time, so the
    compaction's clock starts there (ManualClock) and moves eight days on."""
    import gzip

    sender, edition, subs = uncertain_edition(
        settings, redis_client, smtp, clock, readers=6, uncertain=(2,)
    )
    store = sender.editions
    before = store.get(edition)
    assert before is not None and before.finished_at is not None
    later = ManualClock(before.finished_at)

    assert run(settings, later, "digest", "compact") == 0  # finished just now: not due
    assert "no finished edition older than" in capsys.readouterr().out
    assert run(settings, later, "digest", "compact", "--older-than", "never") == 2
    capsys.readouterr()

    later.advance(days=8)
    assert run(settings, later, "digest", "compact", "--archive", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert f"{edition}: compacted, 5 entries dropped (archive: {tmp_path}" in out
    (archive,) = tmp_path.glob(f"{edition}-*.jsonl.gz")
    with gzip.open(archive) as raw:
        lines = [json.loads(line) for line in raw.read().splitlines()]
    assert sorted(row["subscriber_id"] for row in lines) == sorted(
        s.id for i, s in enumerate(subs) if i != 2
    )
    assert {row["state"] for row in lines} == {"sent"} and "token" not in lines[0]

    after = store.get(edition)
    assert after is not None and after.counts == before.counts
    assert run(settings, later, "digest", "status", edition) == 0
    out = capsys.readouterr().out
    assert "5/6 sent" in out and f"compacted on {later():%Y-%m-%d}" in out
    assert f"uncertain: {subs[2].id}" in out

    assert run(settings, later, "digest", "resend", edition, subs[0].id, "--yes") == 1
    assert "compacted on" in capsys.readouterr().err
    assert run(settings, later, "digest", "resend", edition, subs[2].id, "--yes") == 0
    assert "1 uncertain message(s) queued" in capsys.readouterr().out

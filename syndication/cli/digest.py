"""``syndication digest preview|send|status|pause|resume|cancel|edit|approve|resend|compact``:
the operator's controls.

``compact`` drops the sent entries of finished editions past the retention (optionally
archiving them first); ``status`` still shows such an edition's counts, marked compacted.

``edit`` sets a draft's editorial (intro, featured story, order; store/editorial.py) and
``approve`` sends a draft now; their errors exit 2 with one line saying what is wrong.

``resend`` sends chosen ``uncertain`` entries again (the default policy never does: the
reader may already have the message). It shows the risk and the entries and asks first;
without a terminal it needs ``--yes``. An unknown edition, or one that cannot take resends
(a draft, a cancelled edition), exits 1; a usage problem (no ids and no ``--all``, no
terminal to ask on) exits 2; ids that are not uncertain are skipped and listed.

Each command calls one Digests method; sending itself happens in the workers (the
``mail`` queue). ``status`` shows live counts with a progress bar, or one JSON document.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from syndication.cli.common import EXIT_INPUT, EXIT_USAGE, add_json_flag, emit, error
from syndication.clock import Clock, system_clock
from syndication.config import Settings, parse_days
from syndication.services.digests import FREQUENCIES, Digests, EditionNotEditable
from syndication.services.digests.proof import ProofError
from syndication.store.editions import Edition, EditionStatus, EntryState
from syndication.store.editorial import Editorial

FINAL = (EditionStatus.DONE, EditionStatus.CANCELLED)
#: Editions whose uncertain entries an operator may send again (a done one reopens).
RESENDABLE = (EditionStatus.SENDING, EditionStatus.PAUSED, EditionStatus.DONE)
TEST_SEND_HELP = (
    "TEST send: this period's digest to one confirmed reader now, as they would get it; "
    "creates no edition and ignores the one-per-period rule"
)
RESEND_RISK = (
    "These readers may already have this message. An entry is uncertain when the mail "
    "server took the whole message and the connection dropped before its reply, or when a "
    "sender died in the middle of the transaction. Resending may deliver it twice."
)


def _service(settings: Settings, clock: Clock, with_sender: bool = False) -> Digests:
    """Workers send; this process only queues (``mail.send_batch``) and reads the ledger
    (``with_sender``: a test send, ``digest send --to``, which this process sends itself).

    On ``clock`` (the system clock when the CLI runs, a test's own when it calls a command
    in-process); each command also passes its ``now`` from it."""
    from syndication.services.digests import make_digest_service
    from syndication.store.connection import connect
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    client = connect(settings.need_redis_url())
    events = CeleryEvents(configure(settings), settings)
    return make_digest_service(settings, client, events, with_sender=with_sender, clock=clock)


def _line(edition: Edition) -> str:
    c = edition.counts
    return (
        f"{edition.id}: {edition.status.value}, {c.get('sent', 0)}/{edition.total} sent, "
        f"{c.get('pending', 0)} pending, {c.get('sending', 0)} sending, "
        f"{c.get('failed', 0)} failed, {c.get('uncertain', 0)} uncertain, "
        f"{c.get('cancelled', 0)} cancelled"
        + (f", compacted on {edition.compacted_at:%Y-%m-%d}" if edition.compacted_at else "")
    )


def cmd_preview(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Active readers and those who would get mail are counted apart: a segment with no
    articles in the period gets nothing, and says so."""
    preview = _service(settings, clock).preview(args.frequency, clock())
    lines = [
        f"next {preview['frequency']} edition ({preview['period']}): "
        f"{len(preview['articles'])} article(s); {preview['active']} active reader(s), "
        f"{preview['recipients']} would get it"
    ]
    for seg in preview["segments"]:
        topics = ",".join(seg["topics"]) or "all topics"
        lines.append(
            f"  {seg['language']} / {topics}: {seg['recipients']} recipient(s), "
            f"{len(seg['articles'])} article(s), HTML {seg['html_size']:,} bytes — "
            f"{seg['subject']}"
        )
    for seg in preview["empty"]:
        topics = ",".join(seg["topics"]) or "all topics"
        lines.append(f"  {seg['language']} / {topics}: {seg['readers']} reader(s), no articles")
    emit(args, preview, "\n".join(lines))
    for warning in preview["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_send(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    if args.to:
        return _send_test(args, settings, clock)
    created = _service(settings, clock).create_edition(
        args.frequency, clock(), start=not args.draft
    )
    data = {
        "edition": created.edition_id,
        "created": created.created,
        "reason": created.reason,
        "status": created.edition.to_json() if created.edition else None,
    }
    if created.edition_id is None:
        text = f"no {args.frequency} edition: {created.reason}"
    elif created.created:
        text = f"created {created.edition_id}; " + (
            "draft (digest resume to send)" if args.draft else "queued for the workers"
        )
    else:
        text = (
            f"{created.edition_id} exists already (one per period); to see this period's "
            f"digest as one reader gets it: syndication digest send --frequency "
            f"{args.frequency} --to ADDRESS"
        )
    emit(args, data, text)
    return 0


def _send_test(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    """``--to``: a test send to one confirmed reader, now, recorded nowhere."""
    if args.draft:
        return error("--to sends a test message at once; it cannot be a --draft", EXIT_USAGE)
    try:
        proof = _service(settings, clock, with_sender=True).send_proof(
            args.frequency, args.to, clock()
        )
    except ProofError as exc:
        return error(f"TEST send not made: {exc}", EXIT_USAGE)
    data = {
        "test": True,
        "to": proof.email,
        "edition": proof.edition_id,
        "source": proof.source,
        "articles": list(proof.article_ids),
        "subject": proof.subject,
        "outcome": proof.result.outcome.value,
        "smtp": proof.result.describe(),
        "warnings": proof.warnings,
    }
    whence = (
        f"the content of {proof.edition_id}"
        if proof.source == "edition"
        else f"what {proof.edition_id} would take (not made yet)"
    )
    text = (
        f"TEST send to {proof.email}: {proof.result.outcome.value} "
        f"({proof.result.describe() or 'no reply'}); {len(proof.article_ids)} article(s), "
        f"{whence}; not recorded as an edition or in any ledger\n  subject: {proof.subject}"
    )
    emit(args, data, text)
    for warning in proof.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0 if proof.result.outcome.value == "sent" else 1


def cmd_status(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    service = _service(settings, clock)
    if not args.edition:
        editions = [e for e in map(service.status, service.editions.ids(args.limit)) if e]
        emit(
            args,
            [e.to_json() for e in editions],
            "\n".join(_line(e) for e in editions) or "no editions yet",
        )
        return 0
    edition = service.status(args.edition)
    if edition is None:
        return error(f"no edition {args.edition}")
    if args.watch and not args.json:
        edition = _watch(service, edition, args.interval)
    editorial = service.editorial(edition.id)
    if args.json:
        emit(args, service.report(edition.id) | {"editorial": editorial.to_json()}, "")
    else:
        report = service.report(edition.id)
        lines = [_line(edition), *_editorial_lines(editorial)]
        for kind in ("failed", "uncertain", "repeated"):
            for sid, detail in list(report[kind].items())[:20]:
                lines.append(f"  {kind}: {sid} {detail}")
        if report["repeated"]:
            lines.append(
                f"  {len(report['repeated'])} may have been sent twice (repeated: Redis lost "
                "the record of an earlier delivery)"
            )
        if report["uncertain"] and edition.status in RESENDABLE:
            lines.append(
                f"  uncertain ones may have arrived; to send chosen ones again (a reader may "
                f"get it twice): syndication digest resend {edition.id} ID… (or --all)"
            )
        emit(args, report, "\n".join(lines))
    return 0


def _editorial_lines(editorial: Editorial) -> list[str]:
    lines = []
    if editorial.intro:
        first = " ".join(editorial.intro.split())
        lines.append(f"  intro: {first[:70]}{'…' if len(first) > 70 else ''}")
    if editorial.featured:
        lines.append(f"  featured: {editorial.featured}")
    if editorial.order:
        lines.append(f"  order: {','.join(editorial.order)}")
    if editorial.send_at:
        lines.append(
            f"  sends at: {editorial.send_at.isoformat(timespec='seconds')} (unless approved)"
        )
    if editorial.revision:
        by = f" by {editorial.edited_by}" if editorial.edited_by else ""
        lines.append(f"  editorial revision {editorial.revision}{by}")
    return lines


def _editor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this container
        return "cli"


def cmd_edit(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Options left out keep their current value; ``--featured ''`` clears the feature."""
    service = _service(settings, clock)
    edition = service.status(args.edition)
    if edition is None:
        return error(f"no edition {args.edition}", EXIT_USAGE)
    current = service.editorial(edition.id)
    intro = current.intro
    if args.intro is not None:
        intro = args.intro
    elif args.intro_file is not None:
        try:
            if args.intro_file == "-":
                intro = sys.stdin.read()
            else:
                intro = Path(args.intro_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return error(f"cannot read the intro from {args.intro_file}: {exc}", EXIT_USAGE)
    featured = current.featured if args.featured is None else args.featured
    order: list[str] = list(current.order or edition.article_ids)
    if args.order is not None:
        order = [i.strip() for i in args.order.split(",") if i.strip()]
    try:
        saved = service.edit(
            edition.id,
            intro=intro,
            featured=featured,
            order=order,
            now=clock(),
            edited_by=_editor(),
        )
    except (ValueError, LookupError, EditionNotEditable) as exc:
        return error(str(exc).strip("'\""), EXIT_USAGE)
    text = f"{edition.id}: editorial saved (revision {saved.revision})"
    emit(args, saved.to_json(), "\n".join([text, *_editorial_lines(saved)]))
    return 0


def cmd_approve(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    old, new = _service(settings, clock).approve(args.edition, clock())
    if not old:
        return error(f"no edition {args.edition}", EXIT_USAGE)
    if not new:
        return error(
            f"cannot approve an edition that is {old}: only a draft can be approved", EXIT_USAGE
        )
    emit(
        args,
        {"edition": args.edition, "from": old, "to": new},
        f"{args.edition}: {old} → {new}",
    )
    return 0


def _resend_rows(service: Digests, edition_id: str, ids: list[str]) -> list[dict[str, str]]:
    """(id, address, detail) of the chosen entries, from the edition's frozen list."""
    emails = {r.subscriber_id: r.email for r in service.editions.recipients(edition_id, ids)}
    details = service.editions.details(edition_id, ids)
    return [{"id": i, "email": emails.get(i, ""), "detail": details.get(i, "")} for i in ids]


def _states(service: Digests, edition_id: str, ids: list[str]) -> dict[str, str]:
    """Each id's entry state ('not in this edition' when it has none): why it was skipped.
    A compacted edition kept only failed and uncertain entries: a missing one was sent or
    cancelled (or never in it), and sending it again is refused."""
    edition = service.status(edition_id)
    gone = "not in this edition"
    if edition is not None and edition.compacted_at is not None:
        gone = (
            f"no entry: the edition was compacted on {edition.compacted_at:%Y-%m-%d} and "
            "keeps only failed and uncertain entries; sent ones are not resent"
        )
    return {i: service.editions.entry(edition_id, i)["state"] or gone for i in ids}


def _confirmed(question: str) -> bool:
    """Ask on the terminal (the question on stderr, so stdout keeps only the result)."""
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_resend(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Send chosen uncertain entries again, after showing the risk (``--yes``: no question)."""
    if args.all == bool(args.subscriber_ids):
        return error(
            "name the uncertain subscriber ids to resend, or pass --all (not both)", EXIT_USAGE
        )
    service = _service(settings, clock)
    edition = service.status(args.edition)
    if edition is None:
        return error(f"no edition {args.edition}")
    if edition.status not in RESENDABLE:
        return error(f"cannot resend entries of an edition that is {edition.status.value}")
    uncertain = service.editions.members(edition.id, EntryState.UNCERTAIN)
    wanted = uncertain if args.all else list(dict.fromkeys(args.subscriber_ids))
    known = set(uncertain)
    chosen = [i for i in wanted if i in known]
    skipped = _states(service, edition.id, [i for i in wanted if i not in known])
    if not chosen:
        if args.all:
            emit(
                args,
                {"edition": edition.id, "resent": 0, "skipped": [], "status": edition.status.value},
                f"{edition.id}: nothing to resend, no entry is uncertain",
            )
            return 0
        why = ", ".join(f"{i} ({state})" for i, state in skipped.items())
        return error(f"nothing to resend, none of these is uncertain: {why}")
    if not args.yes:
        refused = _ask_to_resend(args, service, edition.id, chosen, skipped)
        if refused is not None:
            return refused
    return _resend(args, service, edition.id, [*chosen, *skipped], clock)


def _ask_to_resend(
    args: argparse.Namespace,
    service: Digests,
    edition_id: str,
    chosen: list[str],
    skipped: dict[str, str],
) -> int | None:
    """Show the risk and the entries, then ask: None to go on, else the exit code."""
    out = sys.stderr if args.json else sys.stdout
    print(f"{edition_id}: {len(chosen)} uncertain message(s) to send again.", file=out)
    print(f"Risk: {RESEND_RISK}", file=out)
    for row in _resend_rows(service, edition_id, chosen):
        print(f"  {row['id']}  {row['email'] or '?'}  {row['detail']}", file=out)
    for i, state in skipped.items():
        print(f"  skipped: {i} ({state}, not uncertain)", file=out)
    if not sys.stdin.isatty():
        return error("no terminal to ask on: pass --yes to resend these", EXIT_USAGE)
    if not _confirmed(f"Resend {len(chosen)} message(s), at the risk of duplicates? [y/N] "):
        print("nothing was resent", file=sys.stderr)
        return EXIT_INPUT
    return None


def _resend(
    args: argparse.Namespace, service: Digests, edition_id: str, ids: list[str], clock: Clock
) -> int:
    """Queue ``ids`` again (those no longer uncertain are skipped) and say what happened."""
    try:
        report = service.resend_uncertain(edition_id, ids, clock(), by=_editor())
    except LookupError:
        return error(f"no edition {edition_id}")
    states = _states(service, edition_id, report.skipped)
    data = report.to_json() | {"skipped_states": states}
    if not report.resent and report.status not in RESENDABLE:
        return error(f"cannot resend entries of an edition that is {report.status or 'gone'}")
    lines = [
        f"{edition_id}: {report.resent} uncertain message(s) queued to be sent again "
        f"(edition {report.status})"
    ]
    lines += [f"  skipped: {i} ({state}, not uncertain)" for i, state in states.items()]
    emit(args, data, "\n".join(lines))
    return 0 if report.resent else EXIT_INPUT  # all of them stopped being uncertain meanwhile


def cmd_compact(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Compact finished editions past ``--older-than`` (default: the retention setting)."""
    if args.older_than is not None:
        if args.older_than.strip().lower() in ("never", "off", ""):
            return error("--older-than needs an age: 7d, 36h, 0 for any", EXIT_USAGE)
        try:
            older_than = timedelta(days=parse_days(args.older_than))
        except ValueError as exc:
            return error(f"--older-than {exc}", EXIT_USAGE)
    elif settings.digest.retention_days > 0:
        older_than = timedelta(days=settings.digest.retention_days)
    else:
        return error(
            "retention is off (SYNDICATION_EDITION_RETENTION=never): pass --older-than", EXIT_USAGE
        )
    archive = Path(args.archive) if args.archive else None
    reports = _service(settings, clock).compact(
        clock(), older_than=older_than, archive_dir=archive, edition_ids=args.editions or None
    )
    lines = []
    for r in reports:
        if r.result == "compacted":
            kept = f" (archive: {r.archive})" if r.archive else ""
            lines.append(f"{r.edition_id}: compacted, {r.dropped:,} entries dropped{kept}")
        else:
            lines.append(f"{r.edition_id}: not compacted ({r.result})")
    text = "\n".join(lines) or f"no finished edition older than {args.older_than or older_than}"
    emit(args, [r.to_json() for r in reports], text)
    return 0


def _watch(service: Digests, edition: Edition, interval: float) -> Edition:
    """A live progress bar until the edition is done, cancelled or paused (Ctrl-C stops)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(edition.id, total=edition.total)
        while True:
            current = service.status(edition.id)
            if current is None:
                return edition
            edition = current
            c = edition.counts
            bar.update(
                task,
                completed=edition.finished,
                description=f"{edition.id} [{edition.status.value}] "
                f"sent {c.get('sent', 0)} failed {c.get('failed', 0)} "
                f"uncertain {c.get('uncertain', 0)}",
            )
            if edition.status in (*FINAL, EditionStatus.PAUSED):
                return edition
            time.sleep(interval)


def _control(name: str) -> Any:
    def cmd(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
        service = _service(settings, clock)
        old, new = getattr(service, name)(args.edition, clock())
        if not old:
            return error(f"no edition {args.edition}")
        if not new:
            return error(f"cannot {name} an edition that is {old}")
        emit(
            args,
            {"edition": args.edition, "from": old, "to": new},
            f"{args.edition}: {old} → {new}",
        )
        return 0

    return cmd


def register(subparsers: Any) -> None:
    """Add ``digest …`` to the main parser (``subparsers`` from ``add_subparsers``)."""
    digest = subparsers.add_parser(
        "digest", help="Digest editions", description="Preview, send and watch digest editions"
    )
    sub = digest.add_subparsers(dest="digest_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, fn: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(fn=fn)
        add_json_flag(p)
        return p

    p = command("preview", "Show the next edition as it stands (warns about size)", cmd_preview)
    p.add_argument("--frequency", choices=FREQUENCIES, default="daily")

    p = command("send", "Create this period's edition now and queue it", cmd_send)
    p.add_argument("--frequency", choices=FREQUENCIES, default="daily")
    p.add_argument("--draft", action="store_true", help="create it but do not start sending")
    p.add_argument("--to", metavar="ADDRESS", help=TEST_SEND_HELP)

    p = command("status", "Counts of one edition (or the recent ones)", cmd_status)
    p.add_argument("edition", nargs="?", metavar="EDITION")
    p.add_argument("--watch", action="store_true", help="live progress bar until it ends")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--limit", type=int, default=20)

    _edit_arguments(command("edit", "Set a draft's intro, featured story and order", cmd_edit))

    p = command("approve", "Send a draft now (clears its scheduled time)", cmd_approve)
    p.add_argument("edition", metavar="EDITION")

    p = command(
        "resend",
        "Send chosen uncertain entries again (the reader may already have the message)",
        cmd_resend,
    )
    p.add_argument("edition", metavar="EDITION")
    p.add_argument("subscriber_ids", nargs="*", metavar="SUBSCRIBER_ID")
    p.add_argument("--all", action="store_true", help="every uncertain entry of the edition")
    p.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")

    _compact_arguments(
        command(
            "compact",
            "Drop sent entries of finished editions past the retention (counts, failed and "
            "uncertain entries stay)",
            cmd_compact,
        )
    )

    for name, help_text in (
        ("pause", "Stop sending before the next message; resume continues"),
        ("resume", "Continue a paused (or draft) edition"),
        ("cancel", "Stop for good; messages sent stay sent"),
    ):
        p = command(name, help_text, _control(name))
        p.add_argument("edition", metavar="EDITION")


def _edit_arguments(p: argparse.ArgumentParser) -> None:
    """``digest edit``'s options: the intro (inline or from a file), featured story, order."""
    p.add_argument("edition", metavar="EDITION")
    intro = p.add_mutually_exclusive_group()
    intro.add_argument("--intro", metavar="TEXT", help="the editors' note (plain text)")
    intro.add_argument(
        "--intro-file", metavar="FILE", help="read the intro from FILE (UTF-8; - for stdin)"
    )
    p.add_argument("--featured", metavar="ID", help="article shown first and larger ('' for none)")
    p.add_argument("--order", metavar="ID,ID,...", help="every article id of the edition, in order")


def _compact_arguments(p: argparse.ArgumentParser) -> None:
    """``digest compact``'s options: which editions, how old, where the archive goes."""
    p.add_argument("editions", nargs="*", metavar="EDITION", help="only these (default: all due)")
    p.add_argument(
        "--older-than",
        metavar="AGE",
        help="finished at least this long ago: 7d, 36h, 0 (default: SYNDICATION_EDITION_RETENTION)",
    )
    p.add_argument(
        "--archive", metavar="DIR", help="first write the dropped entries to DIR (.jsonl.gz)"
    )

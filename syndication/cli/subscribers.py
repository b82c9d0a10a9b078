"""``syndication subscribers import|export|stats|unsuppress|migrate``: moving lists in and out,
keeping consent, and the operator's lift of a suppression.

``register(subparsers)`` is called by ``cli.build_parser``; commands use the CLI's own
context, output and exit-code conventions (``--json`` prints one JSON document).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from syndication.cli.common import EXIT_INPUT, add_json_flag, context, emit
from syndication.clock import Clock, system_clock
from syndication.config import Settings


def cmd_import(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from rich.progress import Progress

    path = Path(args.csv)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            total = max(0, sum(1 for _ in fh) - 1)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except UnicodeDecodeError:
        print(f"error: {path} is not UTF-8 text", file=sys.stderr)
        return EXIT_INPUT
    service = context(settings, clock).subscriber_transfer
    show = not args.json and sys.stderr.isatty()
    with (
        Progress(disable=not show, transient=True) as bar,
        path.open(encoding="utf-8-sig", newline="") as fh,
    ):
        task = bar.add_task("Importing subscribers", total=total or None)
        report = service.import_csv(fh, lambda n: bar.update(task, completed=n))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items())) or "no rows"
    text = f"{report.rows} row(s): {summary}"
    text += "".join(f"\n  line {line}: {msg}" for line, msg in report.errors)
    emit(args, report.to_json(), text)
    return EXIT_INPUT if report.errors else 0


def cmd_export(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from rich.progress import Progress

    service = context(settings, clock).subscriber_transfer
    to_file = args.output not in (None, "-")
    show = to_file and sys.stderr.isatty()
    with Progress(disable=not show, transient=True) as bar:
        task = bar.add_task("Exporting subscribers", total=None)

        def progress(n: int) -> None:
            bar.update(task, completed=n)

        if args.json:
            rows = []
            for row in service.export_rows():
                rows.append(row)
                progress(len(rows))
            out = json.dumps(
                {"count": len(rows), "subscribers": rows}, ensure_ascii=False, indent=2
            )
            if to_file:
                Path(args.output).write_text(out + "\n", encoding="utf-8")
            else:
                sys.stdout.write(out + "\n")
            n = len(rows)
        elif to_file:
            with open(args.output, "w", encoding="utf-8", newline="") as fh:
                n = service.export_csv(fh, progress)
        else:
            n = service.export_csv(sys.stdout, progress)
    if to_file:
        print(f"{n} row(s) written to {args.output}", file=sys.stderr)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Upgrade records stored before format 2; safe while the service runs, and to repeat."""
    from rich.progress import Progress

    service = context(settings, clock).subscriber_transfer
    show = not args.json and sys.stderr.isatty()
    with Progress(disable=not show, transient=True) as bar:
        task = bar.add_task("Upgrading subscriber records", total=None)
        upgraded = service.migrate(lambda n, total: bar.update(task, completed=n, total=total))
    emit(args, {"upgraded": upgraded}, f"{upgraded} record(s) upgraded to the compact format")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    counts = context(settings, clock).subscriber_store.counts()
    active = ", ".join(f"{n} {k}" for k, n in counts["active"].items())
    by_status = ", ".join(f"{n} {k}" for k, n in counts["by_status"].items())
    text = (
        f"{counts['total']} subscriber(s): {by_status}\n"
        f"active: {active}\nsuppressed addresses: {counts['suppressed']}"
    )
    emit(args, counts, text)
    return 0


def cmd_unsuppress(
    args: argparse.Namespace, settings: Settings, clock: Clock = system_clock
) -> int:
    """Lift one address's suppression (bounces and complaints are only ever lifted here or
    in ``/admin/subscribers``); says what it was, or exits 1 when it was not suppressed."""
    lifted = context(settings, clock).suppressions.lift(args.address)
    if lifted is None:
        emit(args, {"lifted": False}, f"{args.address} is not on the suppression list")
        return 1
    data = {"lifted": True, "email": lifted.email, "reason": lifted.reason, "since": lifted.at}
    text = (
        f"lifted the suppression of {lifted.email} ({lifted.reason}, since "
        f"{lifted.at:%Y-%m-%d %H:%M %Z}); it receives nothing until its owner signs up "
        "and confirms again"
    )
    emit(args, data, text)
    return 0


def register(subparsers: Any) -> None:
    """Add ``subscribers …`` to the CLI (``subparsers`` from ``add_subparsers``)."""
    top = subparsers.add_parser(
        "subscribers", help="Subscriber lists", description="Subscriber lists"
    )
    sub = top.add_subparsers(dest="subscribers_command", required=True, metavar="COMMAND")

    desc = (
        "Import subscribers from CSV (columns as 'subscribers export' writes them; "
        "a confirmed row needs confirmed_at; suppressed addresses are always skipped)"
    )
    p = sub.add_parser("import", help="Import subscribers from CSV", description=desc)
    p.set_defaults(fn=cmd_import)
    p.add_argument("csv", metavar="CSV", help="UTF-8 CSV file with a header row")
    add_json_flag(p)

    desc = "Export every subscriber and suppressed address (CSV on stdout by default)"
    p = sub.add_parser("export", help="Export subscribers", description=desc)
    p.set_defaults(fn=cmd_export)
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    add_json_flag(p, "JSON instead of CSV")

    desc = (
        "Lift the suppression of ADDRESS (after a hard bounce or a complaint that was "
        "resolved); its owner must still sign up and confirm again"
    )
    p = sub.add_parser("unsuppress", help="Lift one address's suppression", description=desc)
    p.set_defaults(fn=cmd_unsuppress)
    p.add_argument("address", metavar="ADDRESS")
    add_json_flag(p)

    desc = (
        "Rewrite subscriber records stored by versions before the compact format and drop "
        "the indexes they needed (safe while the service runs, and to run again)"
    )
    p = sub.add_parser("migrate", help="Upgrade old subscriber records", description=desc)
    p.set_defaults(fn=cmd_migrate)
    add_json_flag(p)

    p = sub.add_parser("stats", help="Counts by status, frequency and language")
    p.set_defaults(fn=cmd_stats)
    add_json_flag(p)

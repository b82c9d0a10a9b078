"""``syndication import|poll``: articles in from files and from feeds; ``syndication
articles hold|release``: an editor's hold on a public article.

``import`` takes JSON, HTML pages or page dumps (files or folders), one file at a time so
that whatever one file does, the rest are imported; ``poll`` fetches one RSS/Atom feed or
WordPress REST API once. Both print a count per outcome (``--json``: the whole report).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from syndication.cli.common import EXIT_INPUT, add_json_flag, context, emit, show_progress
from syndication.clock import Clock, system_clock
from syndication.config import Settings
from syndication.store.connection import ConnectionFailed, StoreUnavailable


def cmd_import(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from rich.progress import Progress

    from syndication.ingest.files import expand_paths
    from syndication.ingest.normalise import IngestError
    from syndication.services.ingest import ImportReport

    ctx = context(settings, clock)
    files = expand_paths(Path(p) for p in args.paths)
    report = ImportReport()
    with Progress(disable=not show_progress(args), transient=True) as bar:
        task = bar.add_task("Importing", total=len(files))
        try:
            if args.url is not None and len(files) != 1:
                ctx.ingest.import_paths(files, url=args.url)  # refuses: names why
            # One file at a time, so that whatever one file does, the rest are imported.
            for done, path in enumerate(files, 1):
                _import_one(ctx, path, args.url, report)
                bar.update(task, completed=done)
        except IngestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
    counts = Counter(o.value for o in report.outcomes.values())
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing imported"
    text = f"{report.files} file(s), {len(report.outcomes)} article(s): {summary}"
    text += "".join(f"\n  failed: {e}" for e in report.errors)
    emit(args, report.to_json() | {"counts": dict(counts)}, text)
    if report.errors and not args.json:
        print(f"{len(report.errors)} file(s) could not be imported", file=sys.stderr)
    return EXIT_INPUT if report.errors else 0


def _import_one(ctx: Any, path: Path, url: str | None, report: Any) -> None:
    """Import one file into ``report``; an error of any kind in it becomes one line there
    (Redis being unreachable still ends the command: nothing else could be imported)."""
    try:
        one = ctx.ingest.import_paths([path], url=url)
    except (StoreUnavailable, *ConnectionFailed):
        raise
    except RecursionError:
        report.files += 1
        report.errors.append(f"{path}: nested too deeply to read")
        return
    except Exception as exc:  # a bug in a parser must not cost the rest of the batch
        report.files += 1
        report.errors.append(f"{path}: cannot import: {type(exc).__name__}: {exc}"[:500])
        return
    report.files += one.files
    report.outcomes.update(one.outcomes)
    report.errors.extend(one.errors)


def cmd_poll(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from syndication.ingest.normalise import IngestError

    ctx = context(settings, clock)
    try:
        report = ctx.ingest.poll(args.url, args.kind)
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    counts = Counter(o.value for o in report.outcomes.values())
    if report.not_modified:
        text = f"{args.url}: not modified since the last poll"
    else:
        text = f"{args.url}: " + (
            ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no items"
        )
    text += "".join(f"\n  skipped: {e}" for e in report.errors)
    emit(
        args,
        {
            "url": args.url,
            "not_modified": report.not_modified,
            "outcomes": {k: v.value for k, v in report.outcomes.items()},
            "errors": report.errors,
        },
        text,
    )
    return 0


def cmd_hold(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Take the article out of every public output; partners that pulled it are told."""
    from syndication.store.articles import Outcome

    reason = " ".join(args.reason.split())
    if not reason:
        print("error: --reason must say why the article is held", file=sys.stderr)
        return EXIT_INPUT
    outcome = context(settings, clock).articles.hold(args.id, reason)
    return _report(args, outcome, Outcome.HELD, "on hold")


def cmd_release(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Lift the hold: the article is back everywhere and partners are told."""
    from syndication.store.articles import Outcome

    outcome = context(settings, clock).articles.release_hold(args.id)
    return _report(args, outcome, Outcome.RELEASED, "released")


def _report(args: argparse.Namespace, outcome: Any, wanted: Any, done: str) -> int:
    if outcome is wanted or args.json:
        emit(args, {"id": args.id, "outcome": outcome.value}, f"{args.id}: {done}")
    else:
        print(f"error: {args.id}: {outcome.value.replace('_', ' ')}", file=sys.stderr)
    return 0 if outcome is wanted else EXIT_INPUT


def _register_holds(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "articles", help="Holds on published articles", description="Holds on articles"
    )
    sub = top.add_subparsers(dest="articles_command", required=True, metavar="COMMAND")
    desc = "Take a published or embargoed article out of every public output"
    p = sub.add_parser("hold", help="Put an article on hold", description=desc)
    p.set_defaults(fn=cmd_hold)
    p.add_argument("id", metavar="ID")
    p.add_argument("--reason", required=True, help="why (kept with the article, for editors)")
    add_json_flag(p)
    desc = "Lift a hold: the article is public again (or embargoed, if that is still ahead)"
    p = sub.add_parser("release", help="Release an article from its hold", description=desc)
    p.set_defaults(fn=cmd_release)
    p.add_argument("id", metavar="ID")
    add_json_flag(p)


def register(subparsers: Any) -> None:
    """Add ``import``, ``poll`` and ``articles`` to the CLI (``subparsers`` from
    ``add_subparsers``)."""
    _register_holds(subparsers)
    help_text = "Import articles from JSON, HTML pages or page dumps"
    p = subparsers.add_parser("import", help=help_text, description=help_text)
    p.set_defaults(fn=cmd_import)
    add_json_flag(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--url", help="canonical URL, for a single file that has none")

    help_text = "Poll an RSS/Atom feed or WordPress REST API once"
    p = subparsers.add_parser("poll", help=help_text, description=help_text)
    p.set_defaults(fn=cmd_poll)
    add_json_flag(p)
    p.add_argument("url", metavar="URL")
    p.add_argument("--kind", choices=["auto", "feed", "wordpress"], default="auto")

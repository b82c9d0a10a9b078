"""``syndication import|poll``: articles in from files and from feeds.

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


def register(subparsers: Any) -> None:
    """Add ``import`` and ``poll`` to the CLI (``subparsers`` from ``add_subparsers``)."""
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

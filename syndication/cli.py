"""``syndication``: the operator's command line.

Each command parses its arguments, calls a service and formats the result; anything that
prints data also takes ``--json``. Errors end as one line on stderr and a non-zero exit:
2 for configuration, 3 for an unreachable Redis, 1 for input that could not be processed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from syndication.clock import Clock, system_clock
from syndication.config import ConfigError, Settings, load_settings
from syndication.store.connection import ConnectionFailed, StoreUnavailable

EXIT_INPUT, EXIT_CONFIG, EXIT_REDIS = 1, 2, 3


def _context(settings: Settings, clock: Clock = system_clock) -> Any:
    """A Context whose events go to Celery (imported here: only commands that need it).

    The CLI runs in real time: ``main`` leaves ``clock`` as the system clock. Commands that
    take a ``clock`` keyword build their services here with it and read "now" from it, so a
    test that calls them in-process passes its own."""
    from syndication.context import Context
    from syndication.store.connection import connect
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    client = connect(settings.need_redis_url())
    return Context(settings, CeleryEvents(configure(settings), settings), client, clock=clock)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


def cmd_import(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from rich.progress import Progress

    from syndication.ingest.files import expand_paths
    from syndication.ingest.normalise import IngestError
    from syndication.services.ingest import ImportReport

    ctx = _context(settings, clock)
    show = not args.json and sys.stderr.isatty()
    files = expand_paths(Path(p) for p in args.paths)
    report = ImportReport()
    with Progress(disable=not show, transient=True) as bar:
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
    _emit(args, report.to_json() | {"counts": dict(counts)}, text)
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

    ctx = _context(settings, clock)
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
    _emit(
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


def cmd_feeds_build(
    args: argparse.Namespace, settings: Settings, clock: Clock = system_clock
) -> int:
    """Every feed, one at a time, with a progress bar (on a terminal, not with --json)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from syndication.store.metrics import Metrics

    ctx = _context(settings, clock)
    names = [name for name, _, _ in ctx.article_store.feed_catalog()]
    show = not args.json and sys.stderr.isatty()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    changed: list[str] = []
    with Progress(*columns, disable=not show, transient=True) as bar:
        task = bar.add_task("Building feeds", total=len(names))
        with ctx.article_store.rebuild_lock():  # as FeedService.rebuild_all, one feed a step
            for name in names:
                bar.update(task, description=f"Building {name}")
                changed += ctx.feeds.rebuild([name])
                bar.advance(task)
    if changed:
        metrics = Metrics(ctx.client, settings.key_prefix)
        metrics.add("feed_documents_built_total", n=len(changed))
        metrics.flush()
    text = "\n".join(f"changed: {url}" for url in changed) or "every feed was already current"
    _emit(args, {"changed": changed}, text)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import os

    import uvicorn

    from syndication.logging_setup import configure_logging, uvicorn_log_config

    configure_logging(settings)
    settings.need_redis_url()
    _context(settings)  # fail now, with one line, if Redis is not there
    # One worker per CPU we may run on: serving is CPU-bound Python. No access log by
    # default: writing a line per poll is a large share of what a cached feed poll costs.
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    uvicorn.run(
        "syndication.web.factory:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers or (len(cpus) if cpus else os.cpu_count() or 1),
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_level="info",
        log_config=uvicorn_log_config(settings),
        access_log=args.access_log,
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from syndication.services.digests import load_dkim_key
    from workers.celery_app import QUEUES, configure

    _context(settings)
    load_dkim_key(settings)  # a missing or unreadable DKIM key stops the worker here, in one line
    argv = [
        "worker",
        "--loglevel",
        args.loglevel,
        "-Q",
        args.queues or ",".join(QUEUES),
        "--concurrency",
        str(args.concurrency),
        "--pool",
        "prefork",
        "--without-gossip",
        "--without-mingle",
    ]
    if args.beat:
        argv += ["--beat", "--schedule", args.schedule]
    from syndication.logging_setup import install_for_celery

    install_for_celery(settings, args.loglevel)
    configure(settings).worker_main(argv)
    return 0


def cmd_beat(args: argparse.Namespace, settings: Settings) -> int:
    from syndication.logging_setup import install_for_celery
    from workers.celery_app import configure

    _context(settings)
    install_for_celery(settings, args.loglevel)
    configure(settings).start(["beat", "--loglevel", args.loglevel, "--schedule", args.schedule])
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Each line OK, WARN (may be right elsewhere) or FAIL with what to fix; exit 2 on a FAIL."""
    from syndication.checks import FAIL, run_checks

    checks = run_checks(settings)
    failed = [c for c in checks if c.status == FAIL]
    text = "\n".join(c.line() for c in checks)
    _emit(args, {"ok": not failed, "checks": [c.to_json() for c in checks]}, text)
    return EXIT_CONFIG if failed else 0


def cmd_demo(args: argparse.Namespace, settings: Settings | None) -> int:
    import signal

    # Catch Ctrl-C from the very start: importing the demo takes a moment, and a signal then
    # must stop the demo as soon as it begins, not be lost or half-handled.
    early: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda n, _frame: early.append(n))

    from syndication.demo import run_demo

    return run_demo(
        data_dir=Path(args.data_dir), host=args.host, port=args.port, stopped_early=early
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndication",
        description="Newsletter and syndication service for Creative Commons newsrooms.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, fn: Callable[..., int], json_flag: bool = False
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(fn=fn)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print one JSON document")
        return p

    p = command("demo", "Run everything on an embedded Redis with sample articles", cmd_demo)
    p.set_defaults(no_settings=True)
    p.add_argument("--data-dir", default=".demo", help="where Redis data and caught mail go")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    p = command("serve", "Run the web app (feeds, API, pages)", cmd_serve)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers", type=int, default=0, help="uvicorn worker processes (default: one per CPU)"
    )
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="log every request (off by default: it costs throughput; errors are logged anyway)",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-* headers are trusted (comma-separated, or '*')",
    )

    p = command("worker", "Run a Celery worker for the feeds, mail and ingest queues", cmd_worker)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--queues", help="comma-separated (default: feeds,mail,ingest)")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--beat", action="store_true", help="also run the beat schedule (one only)")
    p.add_argument("--schedule", default="celerybeat-schedule", help="beat state file")

    p = command("beat", "Run the beat schedule (polls and digests); run exactly one", cmd_beat)
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--schedule", default="celerybeat-schedule", help="beat state file")

    p = command(
        "import", "Import articles from JSON, HTML pages or page dumps", cmd_import, json_flag=True
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--url", help="canonical URL, for a single file that has none")

    p = command(
        "poll", "Poll an RSS/Atom feed or WordPress REST API once", cmd_poll, json_flag=True
    )
    p.add_argument("url", metavar="URL")
    p.add_argument("--kind", choices=["auto", "feed", "wordpress"], default="auto")

    feeds = sub.add_parser("feeds", help="Feed commands", description="Feed commands")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="COMMAND")
    p = feeds_sub.add_parser(
        "build",
        help="Rebuild every feed now",
        description="Rebuild every feed now",
    )
    p.set_defaults(fn=cmd_feeds_build)
    p.add_argument("--json", action="store_true", help="print one JSON document")

    from syndication.cli_digest import register as register_digest
    from syndication.cli_partners import register as register_partners
    from syndication.cli_subscribers import register as register_subscribers

    register_partners(sub)
    register_subscribers(sub)
    register_digest(sub)
    from syndication.cli_admin import register as register_admin

    register_admin(sub)

    command(
        "check",
        "Check Redis, SMTP, secrets, public URL, templates, DKIM and workers: OK or what to fix",
        cmd_check,
        json_flag=True,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # These need no configuration: the demo makes its own, hash-password only hashes.
        settings = None if getattr(args, "no_settings", False) else load_settings()
        code = int(args.fn(args, settings))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_CONFIG
    except StoreUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_REDIS
    except ConnectionFailed as exc:
        print(f"error: cannot reach Redis: {exc}", file=sys.stderr)
        code = EXIT_REDIS
    except KeyboardInterrupt:
        code = 130
    return code


if __name__ == "__main__":
    sys.exit(main())

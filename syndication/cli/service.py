"""``syndication demo|serve|worker|beat|check``: running the service and checking its setup.

``serve`` runs the web app under uvicorn, ``worker`` and ``beat`` the Celery processes
(each fails first, in one line, if Redis or the DKIM key is not there); ``demo`` runs it
all on an embedded Redis; ``check`` says OK, WARN or FAIL for each part of the setup.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from syndication.cli.common import EXIT_CONFIG, add_json_flag, context, emit
from syndication.config import Settings


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import os

    import uvicorn

    from syndication.logging_setup import configure_logging, uvicorn_log_config

    configure_logging(settings)
    settings.need_redis_url()
    context(settings)  # fail now, with one line, if Redis is not there
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

    context(settings)
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

    context(settings)
    install_for_celery(settings, args.loglevel)
    configure(settings).start(["beat", "--loglevel", args.loglevel, "--schedule", args.schedule])
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Each line OK, WARN (may be right elsewhere) or FAIL with what to fix; exit 2 on a FAIL
    only. Then the DNS records this configuration needs (SPF, DKIM, DMARC)."""
    from syndication.checks import FAIL, dns_records, run_checks

    checks = run_checks(settings)
    records = dns_records(settings)
    failed = [c for c in checks if c.status == FAIL]
    lines = [c.line() for c in checks]
    lines += [
        "",
        "WARN: worth fixing, the exit code stays 0; FAIL: the service cannot do its job, exit 2.",
        "",
        "DNS records to publish (bulk senders need SPF, DKIM and DMARC aligned with From):",
    ]
    for record in records:
        lines += [f"; {record.why}", record.zone_line()]
    emit(
        args,
        {
            "ok": not failed,
            "checks": [c.to_json() for c in checks],
            "dns_records": [r.to_json() for r in records],
        },
        "\n".join(lines),
    )
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


def _command(subparsers: Any, name: str, help_text: str, fn: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(fn=fn)
    return p


def register(subparsers: Any) -> None:
    """Add ``demo``, ``serve``, ``worker`` and ``beat`` (``subparsers`` from
    ``add_subparsers``; ``check`` comes last in the list: :func:`register_check`)."""
    p = _command(
        subparsers, "demo", "Run everything on an embedded Redis with sample articles", cmd_demo
    )
    p.set_defaults(no_settings=True)
    p.add_argument("--data-dir", default=".demo", help="where Redis data and caught mail go")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    _add_serve(_command(subparsers, "serve", "Run the web app (feeds, API, pages)", cmd_serve))

    help_text = "Run a Celery worker for the feeds, mail, ingest and hooks queues"
    p = _command(subparsers, "worker", help_text, cmd_worker)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--queues", help="comma-separated (default: feeds,mail,ingest,hooks)")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--beat", action="store_true", help="also run the beat schedule (one only)")
    p.add_argument("--schedule", default="celerybeat-schedule", help="beat state file")

    help_text = "Run the beat schedule (polls and digests); run exactly one"
    p = _command(subparsers, "beat", help_text, cmd_beat)
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--schedule", default="celerybeat-schedule", help="beat state file")


def _add_serve(p: argparse.ArgumentParser) -> None:
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


def register_check(subparsers: Any) -> None:
    """Add ``check`` (last in the command list)."""
    help_text = (
        "Check Redis, SMTP, secrets, public URL, templates, DKIM and workers: OK or what to fix"
    )
    add_json_flag(_command(subparsers, "check", help_text, cmd_check))

"""What every command module shares: exit codes, the context, output and error lines.

Each command parses its arguments, calls a service and formats the result; anything that
prints data also takes ``--json`` (:func:`add_json_flag`, printed by :func:`emit`). Errors
end as one line on stderr (:func:`error`) and a non-zero exit: ``EXIT_CONFIG`` for
configuration, ``EXIT_REDIS`` for an unreachable Redis, ``EXIT_INPUT`` for input that could
not be processed, ``EXIT_USAGE`` for a command used wrongly (``digest edit`` on a sent
edition, a password too short …).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from syndication.clock import Clock, system_clock
from syndication.config import Settings

EXIT_INPUT, EXIT_CONFIG, EXIT_REDIS = 1, 2, 3
EXIT_USAGE = 2
#: Ctrl-C, as a shell reports a process killed by SIGINT.
EXIT_INTERRUPTED = 130


def context(settings: Settings, clock: Clock = system_clock) -> Any:
    """A Context whose events go to Celery (imported here: only commands that need it).

    The CLI runs in real time: ``main`` leaves ``clock`` as the system clock. Commands that
    take a ``clock`` keyword build their services here with it and read "now" from it, so a
    test that calls them in-process passes its own."""
    from syndication.context import Context
    from syndication.store.connection import connect
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    client = connect(settings.need_redis_url())
    migrate_keys_once(client, settings)
    return Context(settings, CeleryEvents(configure(settings), settings), client, clock=clock)


def migrate_keys_once(client: Any, settings: Settings) -> None:
    """Rename keys from before hash tags, once per Redis (a marker key; one GET after):
    every command, ``serve``, ``worker`` and ``beat`` included, starts on the new layout."""
    from syndication.store.key_migration import KeyMigration

    def report(line: str) -> None:
        print(f"migrate-keys: {line}", file=sys.stderr)

    KeyMigration(client, settings.key_prefix).ensure(report)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """``data`` as one JSON document with ``--json``, else ``text``, on stdout."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


def error(message: str, code: int = EXIT_INPUT) -> int:
    """Print ``error: message`` on stderr; returns ``code`` for the command to return."""
    print(f"error: {message}", file=sys.stderr)
    return code


def add_json_flag(parser: argparse.ArgumentParser, help_text: str = "") -> None:
    parser.add_argument("--json", action="store_true", help=help_text or "print one JSON document")


def show_progress(args: argparse.Namespace) -> bool:
    """A progress bar only on a terminal, and never with ``--json``."""
    return not args.json and sys.stderr.isatty()

"""``syndication``: the operator's command line.

Each command parses its arguments, calls a service and formats the result; anything that
prints data also takes ``--json``. Errors end as one line on stderr and a non-zero exit:
2 for configuration, 3 for an unreachable Redis, 1 for input that could not be processed.

One module per command group, each with a ``register(subparsers)``: ``service`` (demo,
serve, worker, beat, check), ``articles`` (import, poll), ``feeds``, ``partners``,
``subscribers``, ``digest``, ``webhooks``, ``admin`` and ``upgrade`` (migrate-keys); what
they share (exit codes, the context, ``--json`` output) is ``common``. ``python -m
syndication.cli`` runs :func:`main`, as the ``syndication`` console script does.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from syndication.cli import (
    admin,
    articles,
    digest,
    feeds,
    partners,
    service,
    subscribers,
    upgrade,
    webhooks,
)
from syndication.cli.common import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_REDIS, error
from syndication.config import ConfigError, load_settings
from syndication.store.connection import ConnectionFailed, StoreUnavailable

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndication",
        description="Newsletter and syndication service for Creative Commons newsrooms.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order of ``syndication --help``.
    for group in (
        service,
        articles,
        feeds,
        partners,
        subscribers,
        digest,
        webhooks,
        admin,
        upgrade,
    ):
        group.register(sub)
    service.register_check(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # These need no configuration: the demo makes its own, hash-password only hashes.
        settings = None if getattr(args, "no_settings", False) else load_settings()
        return int(args.fn(args, settings))
    except ConfigError as exc:
        return error(str(exc), EXIT_CONFIG)
    except StoreUnavailable as exc:
        return error(str(exc), EXIT_REDIS)
    except ConnectionFailed as exc:
        return error(f"cannot reach Redis: {exc}", EXIT_REDIS)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

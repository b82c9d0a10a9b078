"""``syndication migrate-keys``: move keys written before hash tags to their new names.

Every command does this once by itself (``common.migrate_keys_once``); the command is for
doing it deliberately, watching its progress, e.g. before copying the data to a Cluster.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from syndication.cli.common import EXIT_USAGE, add_json_flag, emit, error
from syndication.config import Settings


def cmd_migrate_keys(args: argparse.Namespace, settings: Settings) -> int:
    from syndication.store.connection import connect
    from syndication.store.key_migration import KeyMigration, KeysNotMigrated

    migration = KeyMigration(connect(settings.need_redis_url()), settings.key_prefix)
    try:
        done = migration.run(lambda line: print(line, file=sys.stderr))
    except KeysNotMigrated as exc:
        return error(str(exc), EXIT_USAGE)
    conflicts = sum(done.conflicts.values())
    text = f"{done.total} keys renamed, {conflicts} left because the new name was taken"
    emit(args, {"renamed": done.renamed, "conflicts": done.conflicts}, text)
    return 0


def register(subparsers: Any) -> None:
    help_text = "Rename keys from before Redis Cluster hash tags (idempotent; README: Upgrading)"
    p = subparsers.add_parser("migrate-keys", help=help_text, description=help_text)
    p.set_defaults(fn=cmd_migrate_keys)
    add_json_flag(p)

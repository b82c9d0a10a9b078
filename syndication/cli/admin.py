"""``syndication admin hash-password``: the line for ``SYNDICATION_ADMIN_PASSWORD_HASH``.

The password is read twice from a terminal (``getpass``: never echoed, never in the shell
history or the process list), or once from stdin when that is not a terminal (for scripts:
``printf %s "$PW" | syndication admin hash-password``). Only the hash line is printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from syndication.cli.common import EXIT_USAGE
from syndication.web.admin.auth import ITERATIONS, hash_password

MIN_LENGTH = 12


def read_password(stdin: Any = None) -> str:
    """The password from a TTY (twice, must match) or one line of a non-TTY stdin."""
    stream = stdin or sys.stdin
    if stream.isatty():
        first = getpass.getpass("Admin password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            raise ValueError("the two passwords differ")
        return first
    return str(stream.readline()).rstrip("\r\n")


def _iterations(text: str) -> int:
    if not text.isdigit() or not 100_000 <= int(text) <= 9_999_999:
        raise argparse.ArgumentTypeError("must be a whole number from 100000 to 9999999")
    return int(text)


def cmd_hash_password(args: argparse.Namespace, settings: object = None) -> int:
    try:
        password = read_password()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EOFError, KeyboardInterrupt):
        print("error: no password given", file=sys.stderr)
        return EXIT_USAGE
    if len(password) < MIN_LENGTH:
        print(f"error: the password must be at least {MIN_LENGTH} characters", file=sys.stderr)
        return EXIT_USAGE
    print(hash_password(password, args.iterations))
    return 0


def register(subparsers: Any) -> None:
    """Add ``admin …`` to the CLI (``subparsers`` from ``add_subparsers``)."""
    top = subparsers.add_parser(
        "admin", help="The /admin dashboard", description="The /admin dashboard"
    )
    sub = top.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    desc = (
        "Print a pbkdf2_sha256 line for SYNDICATION_ADMIN_PASSWORD_HASH "
        "(password from the terminal, twice, or one line of stdin)"
    )
    p = sub.add_parser("hash-password", help="Hash the admin password", description=desc)
    p.add_argument(
        "--iterations",
        type=_iterations,
        default=ITERATIONS,
        metavar="N",
        help=f"PBKDF2 iterations (default {ITERATIONS}; 100000 to 9999999)",
    )
    p.set_defaults(fn=cmd_hash_password, no_settings=True)

"""``syndication feeds build``: rebuild every feed now, one at a time, with a progress bar
(on a terminal, not with ``--json``); prints the feeds whose documents changed."""

from __future__ import annotations

import argparse
from typing import Any

from syndication.cli.common import add_json_flag, context, emit, show_progress
from syndication.clock import Clock, system_clock
from syndication.config import Settings


def cmd_build(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Every feed, one at a time, with a progress bar (on a terminal, not with --json)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from syndication.store.metrics import Metrics

    ctx = context(settings, clock)
    names = [name for name, _, _ in ctx.article_store.feed_catalog()]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    changed: list[str] = []
    with Progress(*columns, disable=not show_progress(args), transient=True) as bar:
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
    emit(args, {"changed": changed}, text)
    return 0


def register(subparsers: Any) -> None:
    """Add ``feeds …`` to the CLI (``subparsers`` from ``add_subparsers``)."""
    feeds = subparsers.add_parser("feeds", help="Feed commands", description="Feed commands")
    sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="COMMAND")
    p = sub.add_parser("build", help="Rebuild every feed now", description="Rebuild every feed now")
    p.set_defaults(fn=cmd_build)
    add_json_flag(p)

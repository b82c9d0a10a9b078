"""``syndication webhooks add|list|remove|test|rotate|enable|disable``: event webhook endpoints.

A secret is printed once, by ``add`` and ``rotate``, and never again (it is derived from
``SYNDICATION_SECRET_KEY``, not stored). ``test`` queues a ``webhook.test`` event for a
worker to deliver; ``list`` shows each endpoint's state and its latest attempt.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from syndication.cli.common import EXIT_INPUT, add_json_flag, context, emit, error
from syndication.clock import Clock, system_clock
from syndication.config import Settings

if TYPE_CHECKING:
    from syndication.services.event_hooks import EventHooks


def _hooks(settings: Settings, clock: Clock) -> EventHooks:
    hooks: EventHooks = context(settings, clock).event_hooks
    return hooks


def cmd_add(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from syndication.services.event_hooks import InvalidEndpoint

    try:
        endpoint, secret = _hooks(settings, clock).endpoints.add(
            args.url, args.events or [], clock(), args.description or ""
        )
    except InvalidEndpoint as exc:
        return error(str(exc))
    events = ", ".join(endpoint.events) or "every event"
    text = (
        f"added endpoint {endpoint.id} for {events}\n"
        f"secret: {secret}\n"
        "(shown once: give it to the receiver, which verifies X-Syndication-Signature with it)"
    )
    emit(args, {"endpoint": endpoint.to_json(), "secret": secret}, text)
    return 0


def _line(view: Any) -> str:
    e = view.endpoint
    state = "enabled" if e.enabled else f"disabled ({e.disabled_reason or 'by an operator'})"
    last = view.attempts[0] if view.attempts else None
    tail = (
        f"  last: {last.outcome} {last.status or '-'} at {last.at:%Y-%m-%d %H:%M}"
        if last
        else "  no attempts yet"
    )
    return f"{e.id}  {e.url}  [{', '.join(e.events) or '*'}]  {state}{tail}"


def cmd_list(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    views = _hooks(settings, clock).endpoints.views(attempts=5)
    data = {
        "endpoints": [
            v.endpoint.to_json() | {"attempts": [a.to_json() for a in v.attempts]} for v in views
        ]
    }
    emit(args, data, "\n".join(_line(v) for v in views) or "no endpoints")
    return 0


def _by_id(args: argparse.Namespace, settings: Settings, clock: Clock, action: str) -> int:
    """remove, test, enable, disable, rotate: one endpoint by id."""
    from syndication.services.event_hooks import EndpointNotFound

    hooks = _hooks(settings, clock)
    try:
        if action == "remove":
            hooks.endpoints.remove(args.id)
            emit(args, {"removed": args.id}, f"removed {args.id}")
        elif action == "test":
            eid = hooks.outbox.send_test(args.id)
            emit(args, {"event": eid}, f"queued test event {eid} for {args.id}")
        elif action == "rotate":
            endpoint, secret = hooks.endpoints.rotate(args.id)
            text = f"new secret for {endpoint.id} (the old one stops verifying)\nsecret: {secret}"
            emit(args, {"endpoint": endpoint.to_json(), "secret": secret}, text)
        else:
            change = hooks.endpoints.enable if action == "enable" else hooks.endpoints.disable
            endpoint = change(args.id)
            emit(args, {"endpoint": endpoint.to_json()}, f"{action}d {endpoint.id}")
    except EndpointNotFound:
        return error(f"no endpoint {args.id!r} (see 'syndication webhooks list')", EXIT_INPUT)
    return 0


def register(subparsers: Any) -> None:
    """Add ``webhooks …`` to the CLI (``subparsers`` from ``add_subparsers``)."""
    from syndication.services.event_hooks import EVENT_TYPES

    top = subparsers.add_parser(
        "webhooks",
        help="Event webhook endpoints",
        description="Endpoints that receive signed event POSTs (README: Event webhooks)",
    )
    sub = top.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")

    p = sub.add_parser("add", help="Add an endpoint and print its secret (once)")
    p.set_defaults(fn=cmd_add)
    p.add_argument("url", metavar="URL")
    p.add_argument(
        "--events",
        nargs="+",
        metavar="EVENT",
        help=f"events to send (default: all): {', '.join(EVENT_TYPES)}",
    )
    p.add_argument("--description", metavar="TEXT", help="a note for the admin page")
    add_json_flag(p)

    p = sub.add_parser("list", help="Endpoints, their state and latest attempt")
    p.set_defaults(fn=cmd_list)
    add_json_flag(p)

    helps = {
        "remove": "Remove an endpoint (queued deliveries to it are dropped)",
        "test": "Queue a webhook.test event for an endpoint",
        "rotate": "Give an endpoint a new secret and print it (once)",
        "enable": "Switch an endpoint back on (its failure count starts again)",
        "disable": "Switch an endpoint off",
    }
    for action, help_text in helps.items():
        p = sub.add_parser(action, help=help_text)
        p.set_defaults(fn=lambda a, s, _action=action: _by_id(a, s, system_clock, _action))
        p.add_argument("id", metavar="ID")
        add_json_flag(p)

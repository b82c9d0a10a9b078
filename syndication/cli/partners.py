"""``syndication partners add|list|revoke|rotate|republications``: who may pull the partner
feeds, and where they republished what (the republication registry's export).

``register(subparsers)`` is called by ``cli.build_parser``. A key is printed once, by
``add`` and ``rotate``, and never again: only its SHA-256 is stored. Keys go to stdout
only, never to a log.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from syndication.cli.common import EXIT_INPUT, add_json_flag, context, emit
from syndication.clock import Clock, system_clock
from syndication.config import Settings

if TYPE_CHECKING:
    from syndication.services.partners import Partners


def _service(settings: Settings, clock: Clock) -> Partners:
    """The context's partner services; "now" for their calls is ``clock()`` (the system
    clock when the CLI runs, a test's own in-process)."""
    from syndication.services.partners import make_partners

    ctx = context(settings, clock)
    partners: Partners | None = getattr(ctx, "partners", None)
    return partners or make_partners(settings, ctx.client, ctx.article_store)


def _values(raw: list[str] | None) -> list[str]:
    """``--topics coca "illegal mining"`` and ``--topics coca,illegal-mining`` alike."""
    return [v.strip() for item in raw or [] for v in item.split(",") if v.strip()]


def _key_lines(service: Partners, partner: Any, key: str) -> str:
    base = service.feeds.public_url
    lines = [
        f"key: {key}",
        "  (shown once: store it now; only its hash is kept)",
        f"  feed: {base}/partners/feeds/all.rss with 'Authorization: Bearer <key>'",
        f"  or, for importers that take only a URL: {base}/partners/<key>/feeds/all.rss",
    ]
    if partner.webhook_url and service.keys.secret_key:
        lines.append(f"webhook secret: {service.keys.webhook_secret(partner)}")
        lines.append("  (X-Syndication-Signature: sha256=HMAC-SHA256(secret, body))")
    return "\n".join(lines)


def _key_json(service: Partners, partner: Any, key: str) -> dict[str, Any]:
    data: dict[str, Any] = {"partner": partner.to_json(), "key": key}
    if partner.webhook_url and service.keys.secret_key:
        data["webhook_secret"] = service.keys.webhook_secret(partner)
    return data


def cmd_add(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from syndication.services.partners import InvalidPartner

    service = _service(settings, clock)
    try:
        partner, key = service.keys.add(
            args.name,
            now=clock(),
            commercial=args.commercial,
            topics=_values(args.topics),
            sections=_values(args.sections),
            languages=_values(args.languages),
            webhook_url=args.webhook,
            pixel=not args.no_pixel,
            embargoed=args.embargoed,
        )
    except InvalidPartner as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    kind = "commercial" if partner.commercial else "non-commercial"
    text = f"added partner {partner.id} ({partner.name}, {kind})\n" + _key_lines(
        service, partner, key
    )
    emit(args, _key_json(service, partner, key), text)
    return 0


def _filters(p: Any) -> str:
    parts = [
        f"{label}: {', '.join(values)}"
        for label, values in (("topics", p.topics), ("sections", p.sections), ("lang", p.languages))
        if values
    ]
    return "; ".join(parts) or "everything"


def cmd_list(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    rows = _service(settings, clock).keys.summaries(clock().date())
    lines = []
    for row in rows:
        p = row.partner
        state = f"revoked {p.revoked_at:%Y-%m-%d}" if p.revoked_at else "active"
        lines.append(
            f"{p.id}  {p.name}  key {p.key_prefix}…  {state}  "
            f"{'commercial' if p.commercial else 'non-commercial'}  {_filters(p)}  "
            f"pulls today {row.pulls_today}, 30 days {row.pulls_30_days}"
            + (f"  webhook {p.webhook_url}" if p.webhook_url else "")
            + ("  sees embargoed" if p.embargoed else "")
        )
    emit(args, {"partners": [r.to_json() for r in rows]}, "\n".join(lines) or "no partners")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from syndication.store.partners import PartnerNotFound

    try:
        partner = _service(settings, clock).keys.revoke(args.id, clock())
    except PartnerNotFound:
        print(f"error: no partner {args.id!r} (see 'syndication partners list')", file=sys.stderr)
        return EXIT_INPUT
    emit(args, {"partner": partner.to_json()}, f"revoked {partner.id}: its key no longer works")
    return 0


def cmd_rotate(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    from syndication.store.partners import PartnerNotFound, PartnerRevoked

    service = _service(settings, clock)
    try:
        partner, key = service.keys.rotate(args.id, clock())
    except PartnerNotFound:
        print(f"error: no partner {args.id!r} (see 'syndication partners list')", file=sys.stderr)
        return EXIT_INPUT
    except PartnerRevoked as exc:
        print(f"error: {exc}; add it again instead", file=sys.stderr)
        return EXIT_INPUT
    text = f"new key for {partner.id}; the old one stopped working\n" + _key_lines(
        service, partner, key
    )
    emit(args, _key_json(service, partner, key), text)
    return 0


def _republication_lines(entry: Any) -> list[str]:
    lines = [f"{entry.article_id}  {entry.title or '(not stored)'}  views {entry.views}"]
    for page in [*entry.pages, *entry.unplaced]:
        lines.append(
            f"  {page.url or '(page unknown)'}  {page.partner}  {','.join(page.sources)}  "
            f"first {page.first_seen:%Y-%m-%d}  last {page.last_seen:%Y-%m-%d}  "
            f"views {page.views}"
        )
    if entry.other:
        lines.append(f"  … {entry.other} sightings on pages past the cap")
    lines += [f"  pulled by {p} (first {at:%Y-%m-%d})" for p, at in entry.pulls.items()]
    return lines


def cmd_republications(
    args: argparse.Namespace, settings: Settings, clock: Clock = system_clock
) -> int:
    registry = _service(settings, clock).registry
    one = args.article
    entries = [registry.article(one)] if one else registry.listing(args.limit)
    lines = [line for e in entries for line in _republication_lines(e)]
    data = {"republications": [e.to_json() for e in entries]}
    emit(args, data, "\n".join(lines) or "no republications known")
    return 0


def register(subparsers: Any) -> None:
    """Add ``partners …`` to the CLI (``subparsers`` from ``add_subparsers``)."""
    top = subparsers.add_parser(
        "partners", help="Partner outlets and their keys", description="Partner outlets"
    )
    sub = top.add_subparsers(dest="partners_command", required=True, metavar="COMMAND")

    desc = "Add a partner and print its key (once: only a hash is stored)"
    p = sub.add_parser("add", help="Add a partner", description=desc)
    p.set_defaults(fn=cmd_add)
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--commercial",
        action="store_true",
        help="a commercial outlet: gets no NonCommercial (NC) articles",
    )
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="only these topics")
    p.add_argument("--sections", nargs="+", metavar="SECTION", help="only these sections")
    p.add_argument("--languages", nargs="+", metavar="LANG", help="only these languages")
    p.add_argument("--webhook", metavar="URL", help="POST signed notices of corrections here")
    p.add_argument("--no-pixel", action="store_true", help="no view-counting pixel in items")
    p.add_argument(
        "--embargoed",
        action="store_true",
        help="trusted with embargoed articles before their release (marked EMBARGOED)",
    )
    add_json_flag(p)

    p = sub.add_parser("list", help="Partners with their pull counts")
    p.set_defaults(fn=cmd_list)
    add_json_flag(p)

    p = sub.add_parser("revoke", help="Stop a partner's key working")
    p.set_defaults(fn=cmd_revoke)
    p.add_argument("id", metavar="ID")
    add_json_flag(p)

    p = sub.add_parser("rotate", help="Give a partner a new key (the old one stops working)")
    p.set_defaults(fn=cmd_rotate)
    p.add_argument("id", metavar="ID")
    add_json_flag(p)

    desc = "Where articles were republished (pages, views, pulls): the registry's export"
    p = sub.add_parser("republications", help="Export the republication registry", description=desc)
    p.set_defaults(fn=cmd_republications)
    p.add_argument("--article", metavar="ID", help="one article only")
    p.add_argument("--limit", type=int, default=1000, help="most recently seen articles (1000)")
    add_json_flag(p)

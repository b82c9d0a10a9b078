"""IPTC ninjs 2.1 documents for partner feeds: pure, like the other feed builders.

ninjs (https://iptc.org/standards/ninjs/) is IPTC's JSON for news items; it has no feed
envelope, so a feed is a ``composite`` whose ``associations`` are the items. Item ids,
dates and licence come from the same helpers as RSS, Atom and JSON Feed
(``build.feeds``), so every format agrees. No Redis, no clock: the document's
``versioncreated`` is the newest item's date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from syndication.changes import note_of_changes
from syndication.config import Publisher
from syndication.licences import LICENCES
from syndication.models import Article
from syndication.render.feed_common import SkipHandler, log_skip
from syndication.render.feeds import FeedSpec, feed_updated, item_id
from syndication.render.licence_terms import licence_terms

NINJS = "ninjs"
NINJS_TYPE = "application/ninjs+json; charset=utf-8"
NINJS_VERSION = "2.1"
NINJS_SCHEMA = "http://www.iptc.org/std/ninjs/ninjs-schema_2.1.json"


def _ninjs_item(
    article: Article,
    spec: FeedSpec,
    publisher: Publisher,
    withdrawn: bool,
    text: str | None = None,
    held: bool = False,
) -> dict[str, Any]:
    """One news item in ninjs 2.1 (IPTC): ``uri`` is the same tag URI as the feeds' ids;
    ``pubstatus`` is ``canceled`` for a withdrawn notice; rights in ``copyrightholder``,
    ``usageterms`` (the sentence the digest and the republish page use, with the note of
    changes when the text differs from the source) and ``rightsinfo.linkedrights`` (the
    licence URI). ``text``: the copy as plain text, in ``body_text``. An item under embargo
    (``embargoed_until`` set: partner feeds set it only then) or on hold is ``withheld``;
    the embargo's end is ninjs 2.x ``embargoed``."""
    lic = LICENCES[article.licence]
    holder = article.publisher or publisher.attribution_name
    usage = licence_terms(article.licence, holder, article.language).text
    note = note_of_changes(article.changes, article.language)
    item: dict[str, Any] = {
        "uri": item_id(article, spec.site_url),
        "type": "text",
        "representationtype": "full",
        "version": article.modified.astimezone(UTC).strftime("%Y%m%d%H%M%S"),
        "firstcreated": article.published_at.astimezone(UTC).isoformat(),
        "versioncreated": article.modified.astimezone(UTC).isoformat(),
        "pubstatus": _status(withdrawn, held or article.embargoed_until is not None),
        "language": article.language,
        "headlines": [{"role": "main", "value": article.title}],
        "bodies": [{"role": "main", "contenttype": "text/html", "value": article.body_html}],
        "copyrightholder": holder,
        "usageterms": f"{usage} {note}" if note else usage,
        "altids": [{"role": "canonical-url", "value": article.url}],
    }
    if article.embargoed_until is not None:
        item["embargoed"] = article.embargoed_until.astimezone(UTC).isoformat()
    if article.summary:
        item["descriptions"] = [
            {"role": "summary", "contenttype": "text/plain", "value": article.summary}
        ]
    if article.authors:
        item["by"] = ", ".join(article.authors)
        item["people"] = [{"name": a, "rel": "author"} for a in article.authors]
    if article.topics:
        item["subjects"] = [{"name": t} for t in article.topics]
    if lic.url:
        item["rightsinfo"] = {"linkedrights": lic.url}
    if text is not None:
        item["body_text"] = text
        item["bodies"].append({"role": "main", "contenttype": "text/plain", "value": text})
    return item


def _status(withdrawn: bool, withheld: bool) -> str:
    """ninjs ``pubstatus``: ``canceled`` (withdrawn), ``withheld`` (on hold, or under
    embargo), else ``usable``."""
    if withdrawn:
        return "canceled"
    return "withheld" if withheld else "usable"


def build_ninjs(
    spec: FeedSpec,
    articles: Sequence[Article],
    publisher: Publisher,
    withdrawn: frozenset[str] = frozenset(),
    on_skip: SkipHandler | None = None,
    texts: Mapping[str, str] | None = None,
    held: frozenset[str] = frozenset(),
) -> bytes:
    """A ninjs 2.1 ``composite`` whose ``associations`` are the items (ninjs has no feed
    envelope; a package of associated items is its way to carry several). An item that
    cannot be built is reported to ``on_skip`` (default: logged) and left out, as in the
    other formats. ``texts``: each item's copy as plain text, by article id; ``held``: the
    ids whose items are hold notices."""
    associations: list[dict[str, Any]] = []
    for article in articles:
        try:  # one item that cannot be built (a stored date with no UTC form) is left out
            gone = article.id in withdrawn or article.id in held
            text = (texts or {}).get(article.id) if not gone else None
            item = _ninjs_item(
                article, spec, publisher, article.id in withdrawn, text, article.id in held
            )
        except Exception as exc:
            (on_skip or log_skip)(article, exc)
            continue
        associations.append({"name": f"item{len(associations) + 1}", **item})
    doc: dict[str, Any] = {
        "standard": {"name": "ninjs", "version": NINJS_VERSION, "schema": NINJS_SCHEMA},
        "uri": f"tag:{urlsplit(spec.site_url).hostname},2000:{spec.name}",
        "type": "composite",
        "representationtype": "full",
        "versioncreated": feed_updated(articles).astimezone(UTC).isoformat(),
        "title": spec.title,
        "copyrightholder": publisher.attribution_name,
        "associations": associations,
    }
    if spec.language:
        doc["language"] = spec.language
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

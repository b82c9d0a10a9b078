"""Fetching a polled source and turning its items into Articles.

Two kinds of source: RSS/Atom feeds (RSS 2.0, RFC 4287; parsed by feedparser) and the
WordPress REST API (``/wp-json/wp/v2/posts?_embed``), which gives full bodies, authors,
terms and featured images in one request. Fetches are conditional (RFC 9110 §13: the
stored ``ETag``/``Last-Modified`` go back as ``If-None-Match``/``If-Modified-Since``), give
up at a total deadline, stop reading past a size cap, follow redirects only to hosts the
source may reach and connect to public addresses only (guard.py), because the source is
someone else's server.

Parsing is deterministic (no clock): the same response always gives the same Articles,
so a repeat poll is recognised by the store as unchanged and fires nothing. One bad item
is reported and skipped; only a response that is not a feed at all is an ``IngestError``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
import httpx
from pydantic import ValidationError

from syndication.config import Publisher
from syndication.ingest.common import (
    language_code,
    licence_from_url,
    paragraphs_html,
    parse_datetime,
    publisher_tz,
    squash,
    text_from_html,
    utc_from_struct,
)
from syndication.ingest.guard import (
    Deadline,
    GuardedBackend,
    GuardedTransport,
    Policy,
    Refused,
    Resolver,
    system_resolver,
)
from syndication.ingest.normalise import IngestError, article_from_data, describe_validation_error
from syndication.ingest.sanitise import absolute_url
from syndication.models import Article

USER_AGENT = "syndication/0.1"
MAX_BYTES = 10 * 1024 * 1024
# Per operation; the poll as a whole has ``Policy.deadline_s`` (guard.py).
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
KINDS = ("auto", "feed", "wordpress")
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/json;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_EXCERPT_TAIL = re.compile(r"\s*(\[(…|\.\.\.|&hellip;)\]|…|Continue reading.*|Read more.*)$")
_WP_SKIP_TERMS = frozenset({"uncategorized", "sin categoría", "sin categoria"})


@dataclass(frozen=True)
class Fetched:
    """One response: a 304 has no body; ``url`` is where redirects ended."""

    url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class Parsed:
    """``source_ids[i]`` is what the source calls ``articles[i]`` (RSS guid, Atom id,
    WordPress post id; "" when it names none): its identity, with the link as fallback."""

    kind: str
    articles: list[Article] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)


def fetch(
    url: str,
    policy: Policy,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    monotonic: Callable[[], float] = time.monotonic,
    resolve: Resolver = system_resolver,
) -> Fetched:
    """GET ``url`` conditionally, within ``policy``; raise ``IngestError`` on failure, an
    oversized body or the deadline, ``Refused`` for a host or address it may not reach.

    Redirects are followed here, not by httpx, so that each hop is checked before it is
    requested; the guarded client checks each address before it connects.
    """
    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = Deadline(policy.deadline_s, monotonic)
    backend = GuardedBackend(policy, deadline, resolve)
    hop = httpx.URL(url)
    try:
        with httpx.Client(
            transport=GuardedTransport(backend),
            headers={"User-Agent": USER_AGENT},
            timeout=TIMEOUT,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                policy.check_url(hop)
                with client.stream("GET", hop, headers=headers, follow_redirects=False) as response:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        hop = hop.join(location)
                        continue
                    return _read(url, str(hop), response, max_bytes, deadline, etag, last_modified)
            raise IngestError(f"{url}: more than {MAX_REDIRECTS} redirects")
    except Refused as exc:
        raise Refused(f"{url}: refused: {exc}") from None
    except httpx.TimeoutException as exc:
        if deadline.expired():
            raise IngestError(f"{url}: gave up after {policy.deadline_s:g} s (deadline)") from None
        raise IngestError(f"{url}: {type(exc).__name__}: {exc}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise IngestError(f"{url}: {type(exc).__name__}: {exc}") from None


def _read(
    url: str,
    final: str,
    response: httpx.Response,
    max_bytes: int,
    deadline: Deadline,
    etag: str | None,
    last_modified: str | None,
) -> Fetched:
    """The last hop's response: a 304, or a body read within size and deadline."""
    if response.status_code == 304:
        return Fetched(
            final,
            304,
            etag=response.headers.get("etag") or etag,
            last_modified=response.headers.get("last-modified") or last_modified,
        )
    if response.status_code >= 300:
        raise IngestError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise IngestError(f"{url}: response of {declared} bytes is over {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        # Every read is already clamped to the deadline (guard.DeadlineStream); this also
        # stops a fast endless body, whose reads each return in time.
        if deadline.expired():
            raise httpx.ReadTimeout("deadline")
        size += len(chunk)
        if size > max_bytes:
            raise IngestError(f"{url}: response is over {max_bytes} bytes")
        chunks.append(chunk)
    return Fetched(
        final,
        response.status_code,
        b"".join(chunks),
        response.headers.get("content-type", ""),
        response.headers.get("etag"),
        response.headers.get("last-modified"),
    )


def request_url(url: str, kind: str) -> str:
    """The URL to fetch: a WordPress source gets the posts route and ``_embed``.

    ``_embed`` makes WordPress inline authors, terms and the featured image, so one
    request carries everything an Article needs.
    """
    if kind == "auto" and "/wp-json/" not in url:
        return url
    if kind == "feed":
        return url
    parts = urlsplit(url)
    path = parts.path
    if "/wp-json/" not in path + "/":
        path = path.rstrip("/") + "/wp-json/wp/v2/posts"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k == "_embed" for k, _ in query):
        query.append(("_embed", "1"))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), parts.fragment))


def detect_kind(url: str, kind: str, fetched: Fetched) -> str:
    """``auto``: a ``/wp-json/`` URL or a JSON list is WordPress; XML is a feed."""
    if kind != "auto":
        return kind
    if "/wp-json/" in url:
        return "wordpress"
    head = fetched.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"[":
        return "wordpress"
    if head == b"{":
        raise IngestError(f"{url}: JSON that is not a list of WordPress posts")
    return "feed"


def parse_response(
    fetched: Fetched, kind: str, publisher: Publisher, now: datetime | None = None
) -> Parsed:
    """Articles and per-item errors from a fetched body of the given kind; ``now`` (the
    caller's clock) only refuses items dated too far ahead, the Articles stay deterministic."""
    if kind == "wordpress":
        return parse_wordpress(fetched.body, publisher, fetched.url, now)
    return parse_feed(fetched.body, publisher, fetched.url, fetched.content_type, now)


# -- RSS / Atom ------------------------------------------------------------------------


def parse_feed(
    body: bytes,
    publisher: Publisher,
    feed_url: str,
    content_type: str = "",
    now: datetime | None = None,
) -> Parsed:
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    # Relative links in item bodies are resolved by the sanitiser against the item's own
    # link (what RSS readers do), not against wherever the feed happened to be fetched.
    parsed: Any = feedparser.parse(body, response_headers=headers, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise IngestError(f"{feed_url}: not an RSS or Atom feed: {squash(str(reason))}")
    feed = parsed.feed
    feed_language = language_code(feed.get("language"))
    feed_licence = licence_from_url(feed.get("license"))
    result = Parsed("feed")
    for index, entry in enumerate(parsed.entries):
        label = entry.get("link") or entry.get("id") or f"item {index + 1}"
        try:
            data = _feed_entry(entry, feed_url, publisher, feed_language, feed_licence)
            result.articles.append(article_from_data(data, publisher, now))
            # feedparser puts RSS <guid> and Atom <id> in ``id``.
            result.source_ids.append(str(entry.get("id") or ""))
        except IngestError as exc:
            result.errors.append(f"{label}: {exc}")
        except ValidationError as exc:
            result.errors.append(f"{label}: {describe_validation_error(exc)}")
    return result


def _detail_text(entry: Any, key: str) -> str:
    value = entry.get(key) or ""
    detail = entry.get(f"{key}_detail") or {}
    if str(detail.get("type", "")).endswith(("html", "xhtml+xml")):
        return text_from_html(value)
    return squash(value)


def _feed_entry(
    entry: Any,
    feed_url: str,
    publisher: Publisher,
    feed_language: str | None,
    feed_licence: str | None,
) -> dict[str, Any]:
    link = _entry_link(entry, feed_url)
    content, body, summary = _entry_body(entry)
    published, updated = _entry_dates(entry)
    language = (
        language_code((content or {}).get("language"))
        or language_code(entry.get("language"))
        or feed_language
        or publisher.language
    )
    data: dict[str, Any] = {
        "url": link,
        "title": _detail_text(entry, "title"),
        "body_html": body,
        "authors": [squash(a["name"]) for a in entry.get("authors", []) if a.get("name")],
        "topics": _entry_topics(entry),
        "published_at": published,
        "updated_at": updated,
        "language": language,
        "licence": licence_from_url(entry.get("license")) or feed_licence or publisher.licence,
    }
    if summary:
        data["summary"] = summary
    image = _feed_image(entry)
    if image:
        data["image"] = image
    return data


def _entry_link(entry: Any, feed_url: str) -> str:
    """The item's link, else an Atom ``id`` that is a URL, made absolute against the feed."""
    link = entry.get("link") or ""
    if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
        link = entry["id"]
    if not link:
        raise IngestError("the item has no link")
    return absolute_url(link, feed_url) or link


def _entry_body(entry: Any) -> tuple[Any, str, str | None]:
    """(the content element used, body HTML, summary text): the full content when the item
    has one (HTML preferred), its summary becoming the summary; else the summary is the body."""
    contents = [c for c in entry.get("content", []) if c.get("value")]
    html_contents = [c for c in contents if "html" in str(c.get("type", ""))]
    content = (html_contents or contents or [None])[0]
    summary_html = entry.get("summary") or ""
    if content is None:
        return None, summary_html, None
    body = content["value"]
    if "html" not in str(content.get("type", "html")):
        body = paragraphs_html([squash(p) for p in body.split("\n\n")])
    return content, body, text_from_html(summary_html) if summary_html else None


def _entry_dates(entry: Any) -> tuple[datetime, datetime | None]:
    """(published, updated); an update before the publication is dropped."""
    # dict.get: feedparser's own get() maps a missing updated_parsed to published_parsed
    # (with a DeprecationWarning); we want to know which one the item really has.
    updated = utc_from_struct(dict.get(entry, "updated_parsed"))
    published = utc_from_struct(dict.get(entry, "published_parsed")) or updated
    if published is None:
        raise IngestError("the item has no published or updated date")
    if updated is not None and updated < published:
        updated = None
    return published, updated


def _entry_topics(entry: Any) -> list[str]:
    """Category labels (else terms); a term that is a URL is a scheme, not a topic."""
    topics = [
        squash(t.get("label") or t.get("term") or "")
        for t in entry.get("tags", [])
        if not str(t.get("term") or "").startswith(("http://", "https://"))
    ]
    return [t for t in topics if t]


def _feed_image(entry: Any) -> dict[str, str] | None:
    """Media RSS ``media:content``/``media:thumbnail`` or an image enclosure."""
    for media in entry.get("media_content", []):
        medium = str(media.get("medium") or media.get("type") or "image")
        if media.get("url") and medium.startswith("image"):
            return {"url": media["url"]}
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("href") and str(enclosure.get("type", "")).startswith("image/"):
            return {"url": enclosure["href"]}
    for thumb in entry.get("media_thumbnail", []):
        if thumb.get("url"):
            return {"url": thumb["url"]}
    return None


# -- WordPress REST --------------------------------------------------------------------


def parse_wordpress(
    body: bytes, publisher: Publisher, source_url: str, now: datetime | None = None
) -> Parsed:
    try:
        posts = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"{source_url}: not WordPress JSON: {exc}") from None
    if not isinstance(posts, list):
        raise IngestError(f"{source_url}: expected a JSON list of WordPress posts")
    result = Parsed("wordpress")
    for index, post in enumerate(posts):
        label = f"post {index + 1}"
        if isinstance(post, Mapping):
            label = str(post.get("link") or f"post {post.get('id', index + 1)}")
        try:
            if not isinstance(post, Mapping):
                raise IngestError("not a post object")
            data = _wordpress_post(post, publisher, source_url)
            result.articles.append(article_from_data(data, publisher, now))
            result.source_ids.append(str(post.get("id") or ""))
        except IngestError as exc:
            result.errors.append(f"{label}: {exc}")
        except ValidationError as exc:
            result.errors.append(f"{label}: {describe_validation_error(exc)}")
    return result


def _rendered(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _wp_date(
    post: Mapping[str, Any], gmt_key: str, local_key: str, publisher: Publisher
) -> datetime | None:
    """``date_gmt`` is UTC without an offset; ``date`` is the site's local time."""
    gmt = parse_datetime(post.get(gmt_key), UTC)
    return gmt or parse_datetime(post.get(local_key), publisher_tz(publisher))


def _wordpress_post(
    post: Mapping[str, Any], publisher: Publisher, source_url: str
) -> dict[str, Any]:
    link = post.get("link")
    if not isinstance(link, str) or not link:
        raise IngestError("the post has no link")
    link = absolute_url(link, source_url) or link
    embedded = post.get("_embedded")
    embedded = embedded if isinstance(embedded, Mapping) else {}

    authors = [
        squash(a["name"])
        for a in embedded.get("author", [])
        if isinstance(a, Mapping) and isinstance(a.get("name"), str)
    ]
    topics: list[str] = []
    for group in embedded.get("wp:term", []):
        for term in group if isinstance(group, list) else []:
            if (
                isinstance(term, Mapping)
                and term.get("taxonomy") in ("category", "post_tag")
                and isinstance(term.get("name"), str)
            ):
                name = text_from_html(term["name"])
                if name and name.lower() not in _WP_SKIP_TERMS:
                    topics.append(name)

    published = _wp_date(post, "date_gmt", "date", publisher)
    if published is None:
        raise IngestError("the post has no date")
    updated = _wp_date(post, "modified_gmt", "modified", publisher)
    if updated is not None and updated < published:
        updated = None

    data: dict[str, Any] = {
        "url": link,
        "title": text_from_html(_rendered(post.get("title"))),
        "body_html": _rendered(post.get("content")),
        "authors": authors,
        "topics": topics,
        "published_at": published,
        "updated_at": updated,
        "language": language_code(post.get("lang")) or publisher.language,
        "licence": publisher.licence,
    }
    excerpt = _EXCERPT_TAIL.sub("", text_from_html(_rendered(post.get("excerpt"))))
    if excerpt:
        data["summary"] = excerpt
    image = _wp_featured(embedded)
    if image:
        data["image"] = image
    return data


def _wp_featured(embedded: Mapping[str, Any]) -> dict[str, str] | None:
    for media in embedded.get("wp:featuredmedia", []):
        if isinstance(media, Mapping) and isinstance(media.get("source_url"), str):
            caption = text_from_html(_rendered(media.get("caption"))) or squash(
                str(media.get("alt_text") or "")
            )
            return {"url": media["source_url"], "caption": caption}
    return None

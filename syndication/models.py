"""The article: the one shape that every way in produces and every consumer reads.

The same model is the JSON shape of ``/api/articles`` in and out, so validation errors name
the field a CMS got wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syndication.licences import normalise_licence
from syndication.slugs import slug_from_url, slugify

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,199}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


# Limits every way in shares (API, file import, polling): what one article may weigh in a feed.
MAX_BODY_BYTES = 5 * 1024 * 1024
"""UTF-8 bytes of ``body_html``: the API's default request cap, so no path stores more."""
MAX_TITLE = 1000
MAX_SUMMARY = 5000
MAX_NAME = 200
"""Characters of one author, topic or section name (names become feed titles and slugs)."""
MAX_AUTHORS = 20
MAX_TOPICS = 30
"""Generous for WordPress tag lists; beyond it an item is keyword stuffing."""
MAX_RELATED = 50
MAX_CAPTION = 1000
MAX_URL = 2048
MAX_CHANGES = 20
"""Entries of ``Article.changes``: a note of changes, not an edit history."""

# Dates: a fixed window that every feed format and RFC 822 can write (year 1 with a +14:00
# offset overflows datetime when converted to UTC) …
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# … and, when the caller passes ``now`` in the validation context, no further ahead than a
# scheduled post a CMS pushes early (the model never reads the clock itself).
MAX_AHEAD = timedelta(days=1)

# RFC 3986 characters allowed unescaped in a URI (unreserved, gen-delims, sub-delims) and
# "%" when it starts a percent-encoding; anything else is refused or encoded.
_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}\.?$")  # DNS labels, ASCII (IDNA-encoded)
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")
# Characters that RFC 3986 forbids and feed validators flag: never encoded silently,
# because they are markup or quoting leaking into the field, not a real URL.
_FORBIDDEN = frozenset('"<>\\^`{|}')


def clean_text(value: str) -> str:
    """Control characters become spaces, then white space folds: where a source put one it
    separated two words, which must not be glued together; nor may it reach headers and XML."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _stored(info: ValidationInfo) -> bool:
    """A record read back from the store (``context={"stored": True}``): the limits on
    incoming input are not applied again, so what was stored before them stays readable
    (and can be withdrawn); every way in validates without it."""
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


def _absolute_http_url(value: str, info: ValidationInfo) -> str:
    """An absolute http(s) URI per RFC 3986 that any feed validator accepts.

    Non-ASCII characters (IRIs, e.g. ``/perú``) are percent-encoded as UTF-8 and an
    internationalised host is IDNA-encoded, since CMSs send those for real articles;
    markup characters, white space, control characters and credentials are refused.
    """
    if _stored(info):
        return value
    value = value.strip()
    if len(value) > MAX_URL:
        raise ValueError(f"must be at most {MAX_URL} characters")
    if _CONTROL.search(value) or any(c.isspace() for c in value):
        raise ValueError("must not contain spaces or control characters")
    bad = sorted(set(value) & _FORBIDDEN)
    if bad:
        raise ValueError(f"must not contain {' '.join(bad)} (percent-encode them)")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    if "@" in parts.netloc:
        raise ValueError("must not carry a user name or password")
    host = parts.hostname or ""
    if not host:
        raise ValueError("must name a host")
    if ":" in host:
        if not _IPV6.match(f"[{host}]"):
            raise ValueError("must have a valid host name")
    elif not _HOST.match(host):
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("must have a valid host name") from None
        if not _HOST.match(host):
            raise ValueError("must have a valid host name")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    # pchar (RFC 3986 §3.3) plus "/" and "?": "[" "]" belong to IP literals only.
    safe = "-._~!$&'()*+,;=:@/%"
    path = quote(parts.path, safe=safe)
    query, fragment = (quote(p, safe=safe + "?") for p in (parts.query, parts.fragment))
    url = urlunsplit((parts.scheme, netloc, path, query, fragment))
    if not _URI_CHARS.match(url) or _BAD_PERCENT.search(url):
        raise ValueError("must be a valid URL (RFC 3986): a stray '%' must be written %25")
    if len(url) > MAX_URL:
        raise ValueError(f"must be at most {MAX_URL} characters once percent-encoded")
    return url


def _aware(value: datetime, info: ValidationInfo) -> datetime:
    """A time-zone-aware date a feed can carry: 1970-2099, and at most ``MAX_AHEAD`` past the
    ``now`` of the validation context when the caller gives one."""
    offset = value.utcoffset() if value.tzinfo is not None else None
    if offset is None:
        raise ValueError("must carry a time zone (RFC 3339, e.g. 2020-09-04T12:00:00Z)")
    if _stored(info):
        return value
    if offset % timedelta(minutes=1):
        raise ValueError("must have a time zone offset in whole minutes")
    # The year check comes first: converting year 1 or 9999 to UTC can overflow.
    if not EARLIEST.year <= value.year < LATEST.year or not EARLIEST <= value < LATEST:
        raise ValueError(
            f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (got {value.isoformat()})"
        )
    now = info.context.get("now") if isinstance(info.context, dict) else None
    if isinstance(now, datetime) and value > now + MAX_AHEAD:
        raise ValueError(
            f"must not be more than {MAX_AHEAD.days} day ahead of now "
            f"({now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}; got {value.isoformat()})"
        )
    return value


def _embargo_date(value: datetime, info: ValidationInfo) -> datetime:
    """An embargo may lie weeks ahead (a report under embargo), so only the time zone and
    the 1970-2099 window apply, not ``MAX_AHEAD``."""
    if value.utcoffset() is None:
        raise ValueError("must carry a time zone (RFC 3339, e.g. 2020-09-04T12:00:00Z)")
    if _stored(info):
        return value
    if not EARLIEST.year <= value.year < LATEST.year or not EARLIEST <= value < LATEST:
        raise ValueError(
            f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (got {value.isoformat()})"
        )
    return value


def _body_size(value: str, info: ValidationInfo) -> str:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES and not _stored(info):
        raise ValueError(f"must be at most {MAX_BODY_BYTES} bytes of UTF-8 (got {size})")
    return value


HttpUrl = Annotated[str, AfterValidator(_absolute_http_url)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
EmbargoDatetime = Annotated[datetime, AfterValidator(_embargo_date)]
Text = Annotated[str, AfterValidator(clean_text)]


def _at_most(limit: int) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        if len(value) > limit and not _stored(info):
            raise ValueError(f"must be at most {limit} characters (got {len(value)})")
        return value

    return check


Name = Annotated[str, AfterValidator(clean_text), AfterValidator(_at_most(MAX_NAME))]
Caption = Annotated[str, AfterValidator(clean_text), AfterValidator(_at_most(MAX_CAPTION))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Image(Strict):
    url: HttpUrl
    caption: Caption = ""
    credit: Name = ""
    licence: str | None = None

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: str | None) -> str | None:
        return None if value is None else normalise_licence(value)


class RelatedLink(Strict):
    title: Text = Field(min_length=1, max_length=500)
    url: HttpUrl


class Article(Strict):
    """A normalised, sanitised article (body HTML is sanitised before it gets here)."""

    id: str = ""
    url: HttpUrl
    title: Text = Field(min_length=1, max_length=MAX_TITLE)
    summary: Text = Field(default="", max_length=MAX_SUMMARY)
    body_html: Annotated[str, AfterValidator(_body_size)] = Field(min_length=1)
    authors: list[Name] = Field(default_factory=list, max_length=50)
    published_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    language: str = "en"
    section: Name | None = None
    topics: list[Name] = Field(default_factory=list, max_length=100)
    image: Image | None = None
    licence: str = "CC-BY-NC-4.0"
    republishable: bool = True
    related: list[RelatedLink] = Field(default_factory=list, max_length=MAX_RELATED)
    # Who to credit when it is not the configured publisher (a guest piece, or a sample
    # written for this project): attribution names this party instead (CC 4.0 §3(a)(1)(A)).
    publisher: Name | None = None
    # What the importer removed or restructured from the source, as syndication.changes
    # words it ("removed page navigation"): every outbound copy says so (CC 4.0 §3(a)(1)(B)).
    changes: list[Name] = Field(default_factory=list, max_length=MAX_CHANGES)
    # Not public before this time (store/articles.py keeps it out of every public index
    # until the release task publishes it); partners allowed to see embargoed work get it
    # marked as such meanwhile.
    embargoed_until: EmbargoDatetime | None = None
    # The date in the feed item id (syndication.identity.feed_item_id), fixed by the store
    # when the article is first stored and never taken from input: ids never change.
    feed_date: date | None = Field(default=None, json_schema_extra={"readOnly": True})

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: str) -> str:
        return normalise_licence(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANG.match(value):
            raise ValueError("must be a language code such as en or es-MX")
        primary, _, region = value.partition("-")
        return primary.lower() + (f"-{region.upper()}" if region else "")

    @field_validator("authors", "topics")
    @classmethod
    def _drop_empty(cls, values: list[str], info: ValidationInfo) -> list[str]:
        seen: list[str] = []
        for value in values:
            if value and value not in seen:
                seen.append(value)
        limit = MAX_AUTHORS if info.field_name == "authors" else MAX_TOPICS
        if len(seen) > limit and not _stored(info):
            raise ValueError(f"must have at most {limit} names (got {len(seen)})")
        return seen

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and isinstance(data.get("url"), str):
            data = {**data, "id": slug_from_url(data["url"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> Article:
        if not _ID.match(self.id):
            raise ValueError("id must be 1-200 of a-z, 0-9, '-' or '_', starting alphanumeric")
        if self.updated_at is None:
            self.updated_at = self.published_at
        return self

    @field_validator("updated_at")
    @classmethod
    def _not_before_published(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """Checked here, not on the model, so the error names the field."""
        published = info.data.get("published_at")
        if value is not None and isinstance(published, datetime) and value < published:
            raise ValueError("must not be before published_at")
        return value

    @property
    def modified(self) -> datetime:
        """When the content last changed: what feeds and stale-update checks compare."""
        return self.updated_at or self.published_at

    @property
    def topic_slugs(self) -> list[str]:
        return [s for s in (slugify(t) for t in self.topics) if s]

    @property
    def author_slugs(self) -> list[str]:
        return [s for s in (slugify(a) for a in self.authors) if s]

    @property
    def section_slug(self) -> str | None:
        return slugify(self.section) if self.section else None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

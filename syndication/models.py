"""The article: the one shape that every way in produces and every consumer reads.

The same model is the JSON shape of ``/api/articles`` in and out, so validation errors name
the field a CMS got wrong.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from syndication.licences import normalise_licence
from syndication.slugs import slug_from_url, slugify

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,199}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def clean_text(value: str) -> str:
    """Strip control characters and fold white space: titles and names go into headers and XML."""
    return " ".join(_CONTROL.sub("", value).split())


def _absolute_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    if _CONTROL.search(value) or any(c.isspace() for c in value):
        raise ValueError("must not contain spaces or control characters")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a time zone (RFC 3339, e.g. 2020-09-04T12:00:00Z)")
    return value


HttpUrl = Annotated[str, AfterValidator(_absolute_http_url)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, AfterValidator(clean_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Image(Strict):
    url: HttpUrl
    caption: Text = ""
    credit: Text = ""
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
    title: Text = Field(min_length=1, max_length=1000)
    summary: Text = Field(default="", max_length=5000)
    body_html: str = Field(min_length=1)
    authors: list[Text] = Field(default_factory=list, max_length=50)
    published_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    language: str = "en"
    section: Text | None = None
    topics: list[Text] = Field(default_factory=list, max_length=100)
    image: Image | None = None
    licence: str = "CC-BY-NC-4.0"
    republishable: bool = True
    related: list[RelatedLink] = Field(default_factory=list, max_length=50)

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
    def _drop_empty(cls, values: list[str]) -> list[str]:
        seen: list[str] = []
        for value in values:
            if value and value not in seen:
                seen.append(value)
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
        elif self.updated_at < self.published_at:
            raise ValueError("updated_at must not be before published_at")
        return self

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

"""The API's error answers: ``ApiError`` and its JSON body, for every JSON face.

Every error is ``{"error": <message for people>, "code": <stable id for programs>, …}``:
``error`` is in the client's ``Accept-Language`` (English when it names nothing we have;
the messages are gettext msgids, ``syndication.i18n``), ``code`` and every other field
never change with the language. Its own module so that the body readers (``api.py``,
``jsonbody.py``, ``forms.py``) and the pages that raise it all import it one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from syndication import i18n
from syndication.i18n import N_

#: The ``code`` of an error raised without one, by status (stable: clients branch on it).
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
#: Starlette's own ``detail`` texts (HTTP reason phrases), marked so the catalogs hold them.
REASON_PHRASES = (N_("Not Found"), N_("Method Not Allowed"), N_("Internal Server Error"))


def status_code_name(status: int) -> str:
    return STATUS_CODES.get(status, "error" if status >= 400 else "ok")


class ApiError(Exception):
    """An error answer. ``message`` is an English gettext msgid (mark it with ``N_``) with
    ``%(name)s`` placeholders filled from ``params`` when the answer is rendered, in the
    client's language; ``code`` is the language-independent id (default: by status);
    ``extra`` fields are sent as they are."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.params = dict(params or {})
        super().__init__(message % self.params if self.params else message)
        self.status = status
        self.message = message
        self.code = code or status_code_name(status)
        self.extra = extra

    def text(self, locale: str) -> str:
        """The message for people, in ``locale`` (English where the catalog lacks it)."""
        return i18n.gettext(locale, self.message, **self.params)


def request_locale(request: Request) -> str:
    """The language of a JSON error: ``Accept-Language`` if it names one of ours, else
    English (the API's clients are programs first; ``code`` is what they should read)."""
    return i18n.negotiate(request.headers.get("accept-language")) or i18n.SOURCE


def error_body(
    locale: str,
    message: str,
    code: str,
    params: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """``{"error", "code", **fields}``: ``message`` (a msgid, placeholders filled from
    ``params``) in ``locale``; ``code`` and ``fields`` as they are."""
    return {"error": i18n.gettext(locale, message, **(params or {})), "code": code, **fields}


def error_response(exc: ApiError, locale: str = i18n.SOURCE) -> JSONResponse:
    headers = {"Content-Language": locale, "Vary": "Accept-Language"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    body = {"error": exc.text(locale), "code": exc.code, **exc.extra}
    return JSONResponse(body, exc.status, headers=headers)

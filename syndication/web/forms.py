"""Reading HTML forms, shared by the public pages and the admin.

``read_form`` parses an ``application/x-www-form-urlencoded`` or ``multipart/form-data``
body, bounded in size (``api.read_body``: 413 past ``limit``), with no extra dependency.
File parts are ignored. ``first`` is a field's first value ('' when absent).
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from fastapi import Request

from syndication.web.api import read_body
from syndication.web.errors import ApiError

FORM_LIMIT = 64 * 1024
MAX_FIELDS = 200

Fields = dict[str, list[str]]


async def read_form(request: Request, limit: int = FORM_LIMIT) -> Fields:
    """Fields of an ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body."""
    body = await read_body(request, limit)
    ctype = request.headers.get("content-type", "")
    if ctype.lower().startswith("multipart/form-data"):
        return multipart_fields(ctype, body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "form body is not valid UTF-8") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)


def multipart_fields(ctype: str, body: bytes) -> Fields:
    """The text fields of a ``multipart/form-data`` body (file parts are left out)."""
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: Fields = {}
    if msg.is_multipart():
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and part.get_filename() is None:
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                fields.setdefault(name, []).append(text)
    return fields


def first(fields: Fields, name: str) -> str:
    """The field's first value, '' when the form did not send it."""
    values = fields.get(name) or [""]
    return values[0]


def client_ip(request: Request) -> str:
    """The peer as uvicorn reports it (``--forwarded-allow-ips`` decides trusted proxies)."""
    return request.client.host if request.client else ""

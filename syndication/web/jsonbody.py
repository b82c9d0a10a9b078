"""The one reader of JSON request bodies: UTF-8, JSON, and a bound on nesting depth.

``json.loads`` recurses once per level and raises ``RecursionError`` near 1,000 levels;
what passes it can still make later code (validation, ``json.dumps``) recurse too deep. No
body we take needs more than a few levels, so anything deeper than ``MAX_DEPTH`` is a 400
before any other code sees it. Size is bounded before this, by ``api.read_body``.
"""

from __future__ import annotations

import json
from typing import Any

from syndication.i18n import N_
from syndication.web.errors import ApiError

MAX_DEPTH = 32


def depth(value: Any) -> int:
    """Levels of nested arrays and objects in a parsed document (a scalar is 0); iterative,
    so measuring cannot itself recurse too deep."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def _too_deep(limit: int) -> ApiError:
    return ApiError(
        400,
        N_("body is nested deeper than %(limit)s levels"),
        code="body_too_deep",
        params={"limit": limit},
    )


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body, or an ``ApiError`` 400 naming what is wrong (one line)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            N_("body is not valid UTF-8 (byte %(byte)s)"),
            code="body_not_utf8",
            params={"byte": exc.start},
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            N_("body is not valid JSON: %(reason)s at line %(line)s"),
            code="body_not_json",
            params={"reason": exc.msg, "line": exc.lineno},
        ) from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    if depth(data) > max_depth:
        raise _too_deep(max_depth)
    return data

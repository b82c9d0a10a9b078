"""Reads owned by different modules, sent to Redis in one round trip.

A store method that a page may want to combine with another module's read returns a
``Batched`` read: the commands it queues on a pipeline and how it turns their replies into
a value. ``run()`` sends it alone; ``together(a, b)`` sends both in one pipeline
(``transaction=False``: a read, not an atomic unit), so a page that shows the data of two
modules still costs one round trip, and neither module's key names leave it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import redis

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Batched(Generic[T]):
    """Commands to queue (``queue``) and how to read their replies (``decode``)."""

    client: redis.Redis
    queue: Callable[[Any], None]
    decode: Callable[[list[Any]], T]

    def run(self) -> T:
        """This read alone, in one round trip."""
        (value,) = _execute(self.client, [self])
        return value  # type: ignore[no-any-return]


def together(a: Batched[T], b: Batched[U]) -> tuple[T, U]:
    """Both reads in one round trip (two when they use different clients)."""
    if a.client is not b.client:
        return a.run(), b.run()
    first, second = _execute(a.client, [a, b])
    return first, second


def _execute(client: redis.Redis, reads: Sequence[Batched[Any]]) -> list[Any]:
    spans = []
    with client.pipeline(transaction=False) as pipe:
        for read in reads:
            start = len(pipe)
            read.queue(pipe)
            spans.append((start, len(pipe)))
        replies = pipe.execute()
    return [read.decode(replies[a:b]) for read, (a, b) in zip(reads, spans, strict=True)]

"""A real SMTP server on loopback whose answers a test chooses (aiosmtpd).

It keeps every accepted message in memory and can, per recipient: answer 451 a number of
times then accept, answer 550, drop the connection at RCPT (before any data), or take the
whole message and drop the connection instead of replying (the RFC 1047 case). A per-message
delay slows it down so a worker can be killed mid-edition.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from syndication.embedded_redis import free_port


@dataclass
class Script:
    temp_fail: dict[str, int] = field(default_factory=dict)  # rcpt → 451s left
    perm_fail: set[str] = field(default_factory=set)  # rcpt → 550 5.1.1
    drop_at_rcpt: set[str] = field(default_factory=set)  # close before data, once each
    drop_after_data: set[str] = field(default_factory=set)  # store, then close, once each
    # recipient domain → the reply every RCPT to it gets while the key is there (e.g.
    # "421 4.7.28 slow down": a provider throttling the sender); counted per domain
    by_domain: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds per accepted message
    # Called (from the server's thread) after each accepted message, before its reply, with
    # the recipient and how many messages were accepted so far: a test injects faults here.
    on_accept: Callable[[str, int], None] | None = None
    keep_bodies: bool = True  # False: record recipients only (large fault runs)


class _Handler:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, bytes]] = []
        self.replies: Counter[str] = Counter()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        s = self.script
        with self.lock:
            if address in s.drop_at_rcpt:
                s.drop_at_rcpt.discard(address)
                self.replies["drop-rcpt"] += 1
                assert server.transport is not None
                server.transport.close()
                return "421 closing"
            domain = address.rpartition("@")[2].lower()
            if domain in s.by_domain:
                reply = s.by_domain[domain]
                self.replies[f"{domain}:{reply[:3]}"] += 1
                return reply
            if s.temp_fail.get(address, 0) > 0:
                s.temp_fail[address] -= 1
                self.replies["451"] += 1
                return "451 4.3.0 try again later"
            if address in s.perm_fail:
                self.replies["550"] += 1
                return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        if self.script.delay:
            await asyncio.sleep(self.script.delay)
        with self.lock:
            kept = raw if self.script.keep_bodies else b""
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((rcpt, kept))
            drop = [r for r in envelope.rcpt_tos if r in self.script.drop_after_data]
            for r in drop:
                self.script.drop_after_data.discard(r)
            accepted = len(self.accepted)
        if self.script.on_accept is not None:
            for rcpt in envelope.rcpt_tos:
                self.script.on_accept(rcpt, accepted)
        if drop:
            self.replies["drop-data"] += 1
            assert server.transport is not None
            server.transport.abort()
            await asyncio.sleep(0.05)
        return "250 2.0.0 queued"


class ScriptedSmtp:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.handler = _Handler(self.script)
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=10_000_000
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> ScriptedSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.accepted)

    def replies(self) -> Counter[str]:
        with self.handler.lock:
            return Counter(self.handler.replies)

    def per_recipient(self) -> Counter[str]:
        with self.handler.lock:
            return Counter(r for r, _ in self.handler.accepted)

    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            raws = [raw for _, raw in self.handler.accepted]
        out = []
        for raw in raws:
            msg = message_from_bytes(raw, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out

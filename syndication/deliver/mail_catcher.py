"""A local SMTP server that keeps every message in a Maildir folder.

For the demo (open the folder, or any mail client that reads Maildir) and for tests that
need a real SMTP server on loopback. Not for production: it accepts anything.
"""

from __future__ import annotations

import mailbox
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from syndication.embedded_redis import free_port


class _MaildirHandler:
    def __init__(self, folder: Path) -> None:
        self.box = mailbox.Maildir(folder, create=True)
        self.lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        peer = f"X-Peer: {session.peer}\r\n".encode() if session.peer else b""
        rcpts = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.box.add(peer + f"X-Rcpt-To: {rcpts}\r\n".encode() + raw)
            self.count += 1
        return "250 Message accepted for delivery"


class MailCatcher:
    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.folder = folder
        self.host = host
        self.port = port or free_port()
        self.handler = _MaildirHandler(folder)
        self.controller = Controller(self.handler, hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> MailCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[EmailMessage]:
        box = mailbox.Maildir(self.folder, create=False)
        out = []
        for key in sorted(box.keys()):
            msg = message_from_bytes(box.get_bytes(key), policy=policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out

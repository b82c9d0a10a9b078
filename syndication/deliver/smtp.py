"""Sending one message over SMTP, and saying exactly what became of it.

A ``Sender`` keeps one connection open and reuses it for many transactions (RFC 5321
§3.3); a worker runs several senders in threads. ``send`` never raises for anything the
server or the network does: it returns an ``Outcome`` the ledger can act on:

- ``SENT``: 2xx after the end of data.
- ``TEMPORARY``: a 4xx reply, or the connection failed *before* the whole message (with its
  terminating ``.``) was handed to the socket: the server cannot have accepted it, so a retry
  is safe.
- ``PERMANENT``: a 5xx reply. ``hard_bounce`` is set for a 5xx to RCPT that names the
  mailbox (enhanced status 5.1.x, RFC 3463, or 550/551/553 without one): the address should
  be suppressed.
- ``UNCERTAIN``: the whole message was written and then the connection dropped or timed out
  before the reply. The server may have accepted it (RFC 1047: the "duplicate message"
  problem), so we neither call it sent nor send it again by default.

The transaction is bounded by ``budget`` seconds: every socket wait is capped by what is left,
so a transaction never outlives the ledger lease it started under (store/editions.py).
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import unquote, urlsplit

_ENHANCED = re.compile(rb"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")


#: An envelope written ahead and not continued within this many seconds is not continued:
#: the server may have timed its DATA phase out (RFC 5321 §4.5.3.2.6: 5 minutes at least),
#: and data written then would end ``uncertain`` although nothing could be delivered.
AHEAD_MAX_AGE = 10.0


# The port when the URL names none: submission with STARTTLS (RFC 6409), implicit TLS
# (RFC 8314), plain SMTP relay (RFC 5321).
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: int = 0
    detail: str = ""
    hard_bounce: bool = False

    def describe(self) -> str:
        return f"{self.code} {self.detail}".strip()[:300]

    @property
    def throttled(self) -> bool:
        """The server asks the sender (not this recipient) to slow down: 421 (service
        closing), a 4.7.x policy code (RFC 3463: security or policy, where providers put
        rate limits: Gmail's 4.7.28, Yahoo's 4.7.0), or a bare 450/451 that says no more.
        A 450/451 with another enhanced code (4.2.x mailbox, 4.3.x system) concerns the
        recipient and is retried for it alone."""
        if self.outcome is not Outcome.TEMPORARY or not self.code:
            return False
        match = _ENHANCED.match(self.detail.encode(errors="replace"))
        if self.code == 421 or (match and match.group(1) == b"4" and match.group(2) == b"7"):
            return True
        return self.code in (450, 451) and match is None


class Sender(Protocol):
    """One SMTP session (or anything that delivers like one)."""

    def send(
        self, mail_from: str, rcpt: str, data: bytes, budget: float, crlf: bool = False
    ) -> SendResult: ...

    def prepare(self, mail_from: str, rcpt: str, budget: float) -> None:
        """Write the next transaction's envelope ahead (see ``SmtpSender.prepare``)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpTarget:
    """``smtp://``, ``smtp+starttls://`` or ``smtps://[user[:password]@]host[:port]``."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """The one reading of ``SYNDICATION_SMTP_URL`` (digests, confirmations and
        ``syndication check`` all come here): without a port, ``DEFAULT_PORTS`` decides."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("SMTP URL must be smtp://, smtp+starttls:// or smtps://host[:port]")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def where(self) -> str:
        """``scheme://host:port``, without the credentials (for messages and logs)."""
        return f"{self.scheme}://{self.host}:{self.port}"


def open_session(
    target: SmtpTarget,
    timeout: float,
    *,
    local_hostname: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    strict_ehlo: bool = False,
    steps: list[str] | None = None,
) -> smtplib.SMTP:
    """Connect and greet as the URL's scheme says: TLS from the start (``smtps``, RFC 8314),
    or EHLO, STARTTLS and EHLO again (``smtp+starttls``, RFC 3207), or plain EHLO; then
    AUTH when the URL names a user. The one way a session is opened (``SmtpSender`` and the
    probe of ``syndication check``). ``strict_ehlo``: an EHLO answered with anything but
    250 raises (the probe reports it); ``steps`` collects what was done, for the probe's
    message. The connection is closed if any step fails."""
    # Loading the system's CA certificates costs tens of ms: only when TLS is used.
    tls = target.scheme in ("smtps", "smtp+starttls")
    context = tls_context or (ssl.create_default_context() if tls else None)
    done = steps if steps is not None else []
    conn: smtplib.SMTP
    if target.scheme == "smtps":
        conn = smtplib.SMTP_SSL(
            target.host, target.port, local_hostname, timeout=timeout, context=context
        )
        done.append("TLS")
    else:
        conn = smtplib.SMTP(target.host, target.port, local_hostname, timeout=timeout)
    try:
        code, _ = conn.ehlo()
        if strict_ehlo and code != 250:
            raise smtplib.SMTPResponseException(code, b"EHLO refused")
        done.append("EHLO")
        if target.scheme == "smtp+starttls":
            conn.starttls(context=context)
            conn.ehlo()
            done.append("STARTTLS")
        if target.username:
            conn.login(target.username, target.password or "")
            done.append("login")
    except BaseException:
        conn.close()
        raise
    return conn


def canonical_eols(data: bytes) -> bool:
    """Every CR and LF is part of a CRLF (what RFC 5322 requires on the wire)."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") == crlf and data.count(b"\r") == crlf


def dot_stuff(data: bytes, crlf: bool = False) -> bytes:
    """CRLF line ends and RFC 5321 §4.5.2 transparency, ending with CRLF, without the final
    ``.``. ``crlf``: the caller knows the line ends are canonical already (a message built
    from a checked template), which saves three passes over the message."""
    if not crlf and not canonical_eols(data):
        data = _BARE_EOL.sub(b"\r\n", data)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def _hard_bounce(code: int, message: bytes) -> bool:
    match = _ENHANCED.match(message)
    if match:
        return match.group(1) == b"5" and match.group(2) == b"1"
    return code in (550, 551, 553)


def _result(code: int, message: bytes, *, rcpt_phase: bool = False) -> SendResult:
    text = message.decode(errors="replace").replace("\r", " ").replace("\n", " ")
    if 400 <= code < 500:
        return SendResult(Outcome.TEMPORARY, code, text)
    if code >= 500:
        return SendResult(Outcome.PERMANENT, code, text, rcpt_phase and _hard_bounce(code, message))
    return SendResult(Outcome.TEMPORARY, code, f"unexpected reply: {text}")


class SmtpSender:
    """An SMTP session over smtplib, reused across messages; reconnects when it has to."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        pipelining: bool | None = None,
        ahead_max_age: float = AHEAD_MAX_AGE,
    ) -> None:
        """``pipelining``: None uses RFC 2920 when the server offers it; True/False force.
        ``ahead_max_age``: how long an envelope written by ``prepare`` may wait for its
        ``send`` (``AHEAD_MAX_AGE``)."""
        self.target = SmtpTarget.parse(url)
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.tls_context = tls_context  # None: the default context, made when TLS is used
        self.pipelining = pipelining
        self.ahead_max_age = ahead_max_age
        self._conn: smtplib.SMTP | None = None
        self.connections_opened = 0
        # An envelope written ahead by ``prepare``: (mail_from, rcpt, written at). Its replies
        # are unread; the server may be waiting for the data (354), so the session is only
        # ever continued by ``send`` for the same envelope, else dropped.
        self._ahead: tuple[str, str, float] | None = None

    # --- the session -----------------------------------------------------------------------

    def _connect(self, timeout: float) -> smtplib.SMTP:
        if self.tls_context is None and self.target.scheme in ("smtps", "smtp+starttls"):
            self.tls_context = ssl.create_default_context()  # once, for every reconnect
        conn = open_session(
            self.target,
            timeout,
            local_hostname=self.local_hostname,
            tls_context=self.tls_context,
        )
        self.connections_opened += 1
        return conn

    def _drop(self) -> None:
        self._ahead = None
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """QUIT politely; a dead connection is just dropped, and so is one with an envelope
        written ahead (the server may be reading data: a QUIT would be a line of it)."""
        if self._ahead is not None:
            self._drop()
        if self._conn is not None:
            try:
                self._set_timeout(self._conn, 5.0)
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()

    @staticmethod
    def _set_timeout(conn: smtplib.SMTP, seconds: float) -> None:
        if conn.sock is not None:
            conn.sock.settimeout(max(seconds, 0.01))

    # --- one transaction -------------------------------------------------------------------

    def prepare(self, mail_from: str, rcpt: str, budget: float) -> None:
        """Write the next transaction's MAIL, RCPT and DATA now, without waiting for the
        replies (RFC 2920), so that what the caller does before ``send`` (the ledger's
        begin, one Redis round trip) overlaps the server's round trip.

        Nothing can be delivered before ``send`` writes the data and its final ``.``: a
        ``send`` for another envelope, or ``close``, drops the connection instead (a
        session cut before the final dot delivers nothing). Only on an open session that
        pipelines; a failure here is left for ``send`` to meet (it reconnects)."""
        if self._ahead is not None:
            self._drop()
        conn = self._conn
        if conn is None or not self._pipelined(conn):
            return
        commands = self._commands(conn, mail_from, rcpt)
        if isinstance(commands, SendResult):
            return  # ``send`` refuses the address
        try:
            self._set_timeout(conn, min(self.timeout, budget))
            conn.send(commands)
        except (smtplib.SMTPException, OSError):
            self._drop()
            return
        self._ahead = (mail_from, rcpt, time.monotonic())

    def _take_ahead(self, mail_from: str, rcpt: str, budget: float) -> tuple[bool, float]:
        """(the envelope is written already, the transaction's deadline): an envelope
        written ahead for another transaction, or too long ago, ends its session (never
        with its data); the transaction's budget starts when its envelope was written."""
        ahead, self._ahead = self._ahead, None
        now = time.monotonic()
        if ahead is None:
            return False, now + budget
        if ahead[:2] != (mail_from, rcpt) or now - ahead[2] > self.ahead_max_age:
            self._drop()
            return False, now + budget
        return True, ahead[2] + budget

    def send(
        self, mail_from: str, rcpt: str, data: bytes, budget: float, crlf: bool = False
    ) -> SendResult:
        """Deliver ``data`` to ``rcpt`` within ``budget`` seconds (see the module docstring);
        ``crlf`` as in ``dot_stuff``. Continues the envelope ``prepare`` wrote, if any."""
        written_ahead, deadline = self._take_ahead(mail_from, rcpt, budget)

        def left() -> float:
            return min(self.timeout, deadline - time.monotonic())

        payload = dot_stuff(data, crlf) + b".\r\n"
        try:
            if self._conn is None:
                if left() <= 0:
                    return SendResult(Outcome.TEMPORARY, 0, "no time left to connect")
                self._conn = self._connect(left())
            conn = self._conn
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Outcome.TEMPORARY, 0, f"connect: {exc}")

        written = False
        try:
            self._set_timeout(conn, left())
            if written_ahead:
                refused = self._envelope_replies(conn, left)
            elif self._pipelined(conn):
                refused = self._envelope_pipelined(conn, mail_from, rcpt, left)
            else:
                options = self._options(conn, mail_from, rcpt)
                refused = self._envelope(conn, mail_from, rcpt, options, left)
            if refused is not None:
                return refused
            if left() <= 0:
                # Nothing is delivered without the final dot: dropping the session is safe.
                self._drop()
                return SendResult(Outcome.TEMPORARY, 0, "transaction budget used up before data")
            self._set_timeout(conn, left())
            conn.send(payload)
            written = True
            self._set_timeout(conn, max(left(), 0.01))
            code, msg = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if written:
                return SendResult(Outcome.UNCERTAIN, 0, f"no reply after data: {exc}")
            return SendResult(Outcome.TEMPORARY, 0, f"connection lost: {exc}")
        if code == 421:
            self._drop()
        if 200 <= code < 300:
            return SendResult(Outcome.SENT, code, msg.decode(errors="replace"))
        return _result(code, msg)

    def _pipelined(self, conn: smtplib.SMTP) -> bool:
        if self.pipelining is None:
            return bool(conn.has_extn("pipelining"))
        return self.pipelining

    @staticmethod
    def _options(conn: smtplib.SMTP, mail_from: str, rcpt: str) -> list[str]:
        options = ["BODY=8BITMIME"] if conn.has_extn("8bitmime") else []
        if conn.has_extn("smtputf8") and not (mail_from + rcpt).isascii():
            options.append("SMTPUTF8")
        return options

    def _envelope(
        self,
        conn: smtplib.SMTP,
        mail_from: str,
        rcpt: str,
        options: list[str],
        left: Callable[[], float],
    ) -> SendResult | None:
        """MAIL, RCPT, DATA one at a time; None when the server waits for the data (354)."""
        code, msg = conn.mail(mail_from, options)
        if code != 250:
            return self._failed(conn, _result(code, msg))
        self._set_timeout(conn, left())
        code, msg = conn.rcpt(rcpt)
        if code not in (250, 251):
            return self._failed(conn, _result(code, msg, rcpt_phase=True))
        self._set_timeout(conn, left())
        conn.putcmd("data")
        code, msg = conn.getreply()
        if code != 354:
            return self._failed(conn, _result(code, msg))
        return None

    def _commands(self, conn: smtplib.SMTP, mail_from: str, rcpt: str) -> bytes | SendResult:
        """MAIL, RCPT and DATA as one write (RFC 2920 §3.1), or why the addresses cannot go."""
        for address in (mail_from, rcpt):
            if "\r" in address or "\n" in address or ">" in address:
                return SendResult(Outcome.PERMANENT, 0, f"unusable address {address!r}")
        extra = "".join(f" {o}" for o in self._options(conn, mail_from, rcpt))
        return f"MAIL FROM:<{mail_from}>{extra}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()

    def _envelope_pipelined(
        self, conn: smtplib.SMTP, mail_from: str, rcpt: str, left: Callable[[], float]
    ) -> SendResult | None:
        """MAIL, RCPT and DATA in one write, then their three replies: two round trips
        fewer per message."""
        commands = self._commands(conn, mail_from, rcpt)
        if isinstance(commands, SendResult):
            return commands
        conn.send(commands)
        return self._envelope_replies(conn, left)

    def _envelope_replies(self, conn: smtplib.SMTP, left: Callable[[], float]) -> SendResult | None:
        """The replies to a pipelined MAIL, RCPT and DATA; None when the server waits for
        the data (354). The first refusal decides the outcome."""
        replies = []
        for _ in range(3):
            self._set_timeout(conn, left())
            replies.append(conn.getreply())
        mail, rcpt_reply, data = replies
        if mail[0] == 250 and rcpt_reply[0] in (250, 251) and data[0] == 354:
            return None
        if data[0] == 354:
            # A server that accepted DATA after refusing the envelope: end an empty message.
            conn.send(b".\r\n")
            conn.getreply()
        if mail[0] != 250:
            return self._failed(conn, _result(*mail))
        if rcpt_reply[0] not in (250, 251):
            return self._failed(conn, _result(*rcpt_reply, rcpt_phase=True))
        return self._failed(conn, _result(*data))

    def _failed(self, conn: smtplib.SMTP, result: SendResult) -> SendResult:
        """Reset the session after a refused command (421: the server is closing it)."""
        if result.code == 421:
            self._drop()
            return result
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        return result


def sender_factory(url: str | None, timeout: float) -> Callable[[], Sender] | None:
    """What the services call for a fresh SMTP session to ``url`` (None: no SMTP server
    configured, nothing is sent); the one place a sender is made from settings."""
    if not url:
        return None
    target = url

    def make() -> Sender:
        return SmtpSender(target, timeout=timeout)

    return make

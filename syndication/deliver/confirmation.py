"""The double opt-in mail: rendered from ``templates/email/confirm/`` and sent over SMTP.

A tiny adapter until the digest ``Sender`` (``deliver/smtp.py``) exists; then ``send`` can
hand the bytes to it instead of opening its own connection. Confirmations are rare (one
per signup), so one short SMTP session per mail is fine here.

Header safety: the subject is rendered from a template, then every CR/LF and run of
whitespace is folded to one space; addresses come from ``normalise_email`` (dot-atom only,
no CR/LF possible); display names go through ``email.headerregistry.Address``, which quotes
or RFC 2047-encodes them. The policy keeps header lines up to 998 octets (RFC 5322 §2.1.1)
so the long confirm URL in the body is never folded into encoded words. The mail is in the
subscriber's language (``syndication.i18n``); RFC 2047 encodes a non-ASCII subject.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import unquote, urlsplit

from syndication import i18n
from syndication.config import Publisher
from syndication.services.subscriptions import MailUnavailable
from syndication.store.subscribers import Subscriber
from syndication.templating import environment

POLICY = SMTP.clone(max_line_length=998)
log = logging.getLogger(__name__)
_ENHANCED = re.compile(rb"\b[245]\.\d{1,3}\.\d{1,3}\b")


class ConfirmationFailed(MailUnavailable):
    """The confirmation was not accepted; ``permanent`` for a 5xx (retrying cannot help).

    The message names the subscriber id and the SMTP codes, never the address: servers
    echo it in their replies, and smtplib puts it in ``SMTPRecipientsRefused``.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def describe_failure(exc: BaseException) -> tuple[str, bool]:
    """(what went wrong without any address or server text, permanent?)."""
    codes: list[tuple[int, bytes]] = []
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [v for v in exc.recipients.values() if isinstance(v, tuple)]
    elif isinstance(exc, smtplib.SMTPResponseException):
        codes = [(exc.smtp_code, exc.smtp_error if isinstance(exc.smtp_error, bytes) else b"")]
    if codes:
        code, text = codes[0]
        enhanced = _ENHANCED.search(text)
        extra = f" {enhanced.group(0).decode()}" if enhanced else ""
        return f"{type(exc).__name__}: SMTP {code}{extra}", 500 <= code < 600
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or 'connection failed'}", False
    return type(exc).__name__, False


def one_line(text: str, limit: int = 200) -> str:
    """Header-safe text: no CR/LF (no header injection), collapsed whitespace, bounded."""
    return re.sub(r"\s+", " ", text).strip()[:limit]


def sender_address(publisher: Publisher, public_url: str, sender: str | None = None) -> Address:
    """``"Publisher <newsletter@host of public_url>"`` unless configured."""
    if sender:
        name, _, addr = sender.rpartition("<")
        addr = addr.rstrip(">").strip() or sender.strip()
        return Address(display_name=one_line(name.strip().strip('"')), addr_spec=addr)
    host = urlsplit(public_url).hostname or "localhost"
    return Address(display_name=one_line(publisher.name), addr_spec=f"newsletter@{host}")


def build_confirmation(
    subscriber: Subscriber,
    confirm_url: str,
    publisher: Publisher,
    public_url: str,
    sender: Address,
    hours: int = 48,
) -> EmailMessage:
    env = environment()
    locale = i18n.supported(subscriber.language) or i18n.SOURCE
    context = {
        "locale": locale,  # the subscriber's language, when we have a catalog for it
        "frequency_name": i18n.frequency_name(locale, subscriber.frequency),
        "publisher": publisher,
        "subscriber": subscriber,
        "confirm_url": confirm_url,
        "public_url": public_url,
        "hours": hours,
    }
    subject = one_line(env.get_template("email/confirm/subject.txt").render(context))
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = Address(addr_spec=subscriber.email)
    msg["Date"] = format_datetime(subscriber.updated_at or subscriber.created_at)
    msg["Message-ID"] = make_msgid("confirm", domain=sender.domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    msg.set_content(env.get_template("email/confirm/body.txt").render(context), cte="8bit")
    msg.add_alternative(
        env.get_template("email/confirm/body.html").render(context), subtype="html", cte="8bit"
    )
    msg["Content-Language"] = locale  # RFC 3282; after set_content, which drops Content-*
    return msg


class SmtpConfirmationMailer:
    """``Mailer`` over SMTP: ``smtp://``, ``smtp+starttls://`` or ``smtps://``, with auth."""

    def __init__(
        self,
        smtp_url: str | None,
        publisher: Publisher,
        public_url: str,
        sender: str | None = None,
        timeout: float = 15,
        confirm_hours: int = 48,
        retry_delay: float = 2.0,
    ) -> None:
        self.smtp_url = smtp_url
        self.publisher = publisher
        self.public_url = public_url
        self.sender = sender_address(publisher, public_url, sender)
        self.timeout = timeout
        self.confirm_hours = confirm_hours
        self.retry_delay = retry_delay

    def send_confirmation(self, subscriber: Subscriber, confirm_url: str) -> None:
        """Send, and once more after ``retry_delay`` on a temporary failure (a 4xx, a
        dropped connection): a signup should not be lost to a greylisting server or a
        relay restart. Failures are logged and raised with the subscriber id only."""
        msg = build_confirmation(
            subscriber,
            confirm_url,
            self.publisher,
            self.public_url,
            self.sender,
            self.confirm_hours,
        )
        try:
            self.send(msg, subscriber.email)
            return
        except ConfirmationFailed as exc:
            if exc.permanent:
                raise ConfirmationFailed(
                    f"confirmation for subscriber {subscriber.id} refused: {exc}", True
                ) from None
            log.warning(
                "confirmation for subscriber %s not sent (%s); retrying in %.1f s",
                subscriber.id,
                exc,
                self.retry_delay,
            )
        time.sleep(self.retry_delay)
        try:
            self.send(msg, subscriber.email)
        except ConfirmationFailed as exc:
            raise ConfirmationFailed(
                f"confirmation for subscriber {subscriber.id} not sent after 2 attempts: {exc}",
                exc.permanent,
            ) from None

    def send(self, msg: EmailMessage, rcpt: str) -> None:
        if not self.smtp_url:
            raise MailUnavailable("SYNDICATION_SMTP_URL is not set")
        parts = urlsplit(self.smtp_url)
        host = parts.hostname or "localhost"
        try:
            if parts.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host,
                    parts.port or 465,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(host, parts.port or 25, timeout=self.timeout)
            with client:
                if parts.scheme == "smtp+starttls":
                    client.starttls(context=ssl.create_default_context())
                if parts.username:
                    client.login(unquote(parts.username), unquote(parts.password or ""))
                client.sendmail(self.sender.addr_spec, [rcpt], msg.as_bytes(policy=POLICY))
        except (OSError, smtplib.SMTPException) as exc:
            what, permanent = describe_failure(exc)
            raise ConfirmationFailed(what, permanent) from None

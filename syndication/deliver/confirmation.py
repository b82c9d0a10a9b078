"""The double opt-in mail: rendered from ``templates/email/confirm/`` and sent over SMTP.

A tiny adapter until the digest ``Sender`` (``deliver/smtp.py``) exists; then ``send`` can
hand the bytes to it instead of opening its own connection. Confirmations are rare (one
per signup), so one short SMTP session per mail is fine here.

Header safety: the header fields are written by ``syndication.build.headers``, as for the
digests, never by the ``email`` package (which decodes ``=?…?=`` in a publisher name back
into CR/LF). The subject is rendered from a template and goes out as text: literally when
it is printable ASCII without ``=?``, else as encoded words of ours; the addresses are
ASCII dot-atoms without ``=?``; the header block is checked before it is sent. The mail
is in the subscriber's language (``syndication.i18n``).
"""

from __future__ import annotations

import email
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
from syndication.build import headers
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
    """One line of text: control characters (CR/LF …) become spaces, white space folds."""
    return headers.one_line(text)[:limit]


def sender_address(publisher: Publisher, public_url: str, sender: str | None = None) -> Address:
    """``"Publisher <newsletter@host of public_url>"`` unless configured (``Name <addr>``,
    ``"Name" <addr>`` or ``addr``; the name is text). HeaderError for anything else."""
    if sender:
        name, addr = headers.parse_mailbox(sender)
        return Address(display_name=one_line(name), addr_spec=addr)
    host = urlsplit(public_url).hostname or "localhost"
    return Address(display_name=one_line(publisher.name), addr_spec=f"newsletter@{host}")


def confirmation_bytes(
    subscriber: Subscriber,
    confirm_url: str,
    publisher: Publisher,
    public_url: str,
    sender: Address,
    hours: int = 48,
) -> bytes:
    """The confirmation as sent: header fields written by us, the body by the library."""
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
    body = EmailMessage(policy=POLICY)
    body.set_content(env.get_template("email/confirm/body.txt").render(context), cte="8bit")
    body.add_alternative(
        env.get_template("email/confirm/body.html").render(context), subtype="html", cte="8bit"
    )
    content_type, data = headers.mime_body(body, POLICY)
    sender_addr = headers.check_addr_spec(sender.addr_spec)
    fields = [
        headers.unstructured("Subject", subject),
        headers.mailbox("From", sender.display_name, sender_addr),
        headers.structured("To", headers.check_addr_spec(subscriber.email)),
        headers.structured("Date", format_datetime(subscriber.updated_at or subscriber.created_at)),
        headers.structured("Message-ID", make_msgid("confirm", domain=sender_addr.split("@")[1])),
        headers.structured("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies
        headers.structured("MIME-Version", "1.0"),
        content_type,
        headers.structured("Content-Language", locale),  # RFC 3282
    ]
    message = headers.join(fields, data)
    headers.check_header_block(message, headers.field_names(fields))
    return message


def build_confirmation(
    subscriber: Subscriber,
    confirm_url: str,
    publisher: Publisher,
    public_url: str,
    sender: Address,
    hours: int = 48,
) -> EmailMessage:
    """A confirmation parsed back (for checks and tests). ``as_bytes`` with ``POLICY``
    writes its header fields back as we wrote them: parsed values are only refolded when a
    line is over 998 octets (``refold_source="long"``)."""
    data = confirmation_bytes(subscriber, confirm_url, publisher, public_url, sender, hours)
    msg = email.message_from_bytes(data, policy=POLICY)
    assert isinstance(msg, EmailMessage)
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
        msg = confirmation_bytes(
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

    def send(self, msg: bytes, rcpt: str) -> None:
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
                client.sendmail(self.sender.addr_spec, [rcpt], msg)
        except (OSError, smtplib.SMTPException) as exc:
            what, permanent = describe_failure(exc)
            raise ConfirmationFailed(what, permanent) from None

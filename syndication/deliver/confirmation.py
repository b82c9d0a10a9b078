"""The double opt-in mail (``templates/email/confirm/``) and the manage-link mail a reader
asks for on ``/manage`` (``templates/email/manage/``): one builder for both.

It is sent by a worker through the confirmation ledger (``services/confirmations.py``: one
SMTP session per attempt through ``deliver/smtp.py``'s ``SmtpSender``, retries over hours,
never two messages for one request), not by the web process.

Header safety: the header fields are written by ``syndication.render.headers``, as for the
digests, never by the ``email`` package (which decodes ``=?…?=`` in a publisher name back
into CR/LF). The subject is rendered from a template and goes out as text: literally when
it is printable ASCII without ``=?``, else as encoded words of ours; the addresses are
ASCII dot-atoms without ``=?``; the header block is checked before it is sent. The mail
is in the subscriber's language (``syndication.i18n``).
"""

from __future__ import annotations

import email
import logging
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from syndication import i18n
from syndication.config import Publisher
from syndication.render import headers
from syndication.store.subscribers import Subscriber
from syndication.templating import environment

POLICY = SMTP.clone(max_line_length=998)
log = logging.getLogger(__name__)


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
    date: datetime | None = None,
) -> bytes:
    """The confirmation as sent: header fields written by us, the body by the library.
    ``date``: when it is sent (the ``Date`` field), else when the subscriber signed up."""
    values = {"confirm_url": confirm_url, "public_url": public_url, "hours": hours}
    return reader_mail_bytes("confirm", subscriber, publisher, sender, values, date)


def manage_link_bytes(
    subscriber: Subscriber,
    manage_url: str,
    publisher: Publisher,
    sender: Address,
    date: datetime,
) -> bytes:
    """The mail a reader asks for on ``/manage``: their preferences link, in their language."""
    values: dict[str, object] = {"manage_url": manage_url}
    return reader_mail_bytes("manage", subscriber, publisher, sender, values, date)


def reader_mail_bytes(
    kind: str,
    subscriber: Subscriber,
    publisher: Publisher,
    sender: Address,
    values: dict[str, object],
    date: datetime | None = None,
) -> bytes:
    """One mail to one reader from ``templates/email/<kind>/`` (subject, text and HTML)."""
    env = environment()
    locale = i18n.supported(subscriber.language) or i18n.SOURCE
    context = {
        "locale": locale,  # the subscriber's language, when we have a catalog for it
        "frequency_name": i18n.frequency_name(locale, subscriber.frequency),
        "publisher": publisher,
        "subscriber": subscriber,
        **values,
    }
    subject = one_line(env.get_template(f"email/{kind}/subject.txt").render(context))
    sent_or_signed_up = subscriber.updated_at or subscriber.created_at
    body = EmailMessage(policy=POLICY)
    body.set_content(env.get_template(f"email/{kind}/body.txt").render(context), cte="8bit")
    body.add_alternative(
        env.get_template(f"email/{kind}/body.html").render(context), subtype="html", cte="8bit"
    )
    content_type, data = headers.mime_body(body, POLICY)
    sender_addr = headers.check_addr_spec(sender.addr_spec)
    fields = [
        headers.unstructured("Subject", subject),
        headers.mailbox("From", sender.display_name, sender_addr),
        headers.structured("To", headers.check_addr_spec(subscriber.email)),
        headers.structured("Date", format_datetime(date or sent_or_signed_up)),
        headers.structured("Message-ID", make_msgid(kind, domain=sender_addr.split("@")[1])),
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

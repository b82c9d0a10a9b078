"""What the header tests expect of a message we send, written here once and not taken from
the code under test (``syndication.render.digest_email.DIGEST_HEADERS`` must agree with it)."""

from __future__ import annotations

import re

#: The header fields of a digest message, in the order we write them.
DIGEST_FIELDS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Precedence",
    "Content-Type",
    "Content-Language",
]
#: C0, DEL, C1 and the Unicode line and paragraph separators: none may reach a header value.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: An RFC 2047 encoded word (RFC 2047 §2), to measure the ones we write.
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=")

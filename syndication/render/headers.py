"""Mail header fields written by our code, byte for byte: input text is text.

Python's ``email`` package parses every value given to ``msg[name] = value``: it decodes
RFC 2047 encoded words (``=?utf-8?q?x=0D=0ABcc:_y?=`` turns back into CR LF ``Bcc: y``)
and refolds what it decoded, so stripping CR/LF from the raw input is not enough
(FIELD-NOTES, December 2026). So our messages' header fields never pass through its
header parser or folder: this module writes them, and the library serialises only the
MIME body (and its ``Content-Type``). Text from input goes out either literally — printable
ASCII holding no ``=?`` — or as encoded words we write, each at most 75 characters
(RFC 2047 §2), on lines of at most 76, holding whole characters (§5). Structured values
(addresses, dates, ids, URLs) are refused unless they are printable ASCII without ``=?``.

:func:`check_header_block` is the last step before a message is sent: it refuses a header
block with a bare CR or LF, a field our code did not write, or an ``=?`` that is not one of
our encoded words.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import Policy

#: RFC 2047 §2: an encoded word is at most 75 characters ...
MAX_ENCODED_WORD = 75
#: ... and a line holding one at most 76.
EW_LINE = 76
#: RFC 5322 §2.1.1: at most 998 octets per line, excluding CRLF.
MAX_LINE = 998
CRLF = "\r\n"

#: Control characters, line and paragraph separators: a space in a header (and in text).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: RFC 5322 §3.2.3 dot-atom-text, ASCII only (no SMTPUTF8).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
ADDR_SPEC = re.compile(rf"{DOT_ATOM}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 §3.6.8 field-name
_NAME_OCTETS = re.compile(rb"[!-9;-~]+")
#: What a header block may hold besides printable ASCII: CR and LF (checked as pairs), HTAB.
_BAD_OCTET = re.compile(rb"[^\x20-\x7e\r\n\t]")
#: RFC 2047 §5(3): the only characters a Q-encoded word may hold as they are, anywhere.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_PREFIX, _B_PREFIX, _SUFFIX = "=?utf-8?q?", "=?utf-8?b?", "?="
#: What we write: the guard accepts these and no other ``=?``.
_OUR_EW = re.compile(rb"=\?utf-8\?(?:q\?[A-Za-z0-9!*+/=_-]*|b\?[A-Za-z0-9+/]*={0,2})\?=")


class HeaderError(ValueError):
    """A header value or block our code refuses to write or send."""


def one_line(value: str) -> str:
    """Control characters (CR/LF above all, U+2028 …) replaced by a space, white space
    folded, lone surrogates (not encodable) replaced by U+FFFD: text for a header."""
    value = _SURROGATE.sub("\ufffd", value)
    return " ".join(_CONTROL.sub(" ", value).split())


def is_literal(text: str) -> bool:
    """Text that may go into a header as it is: printable ASCII that no reader decodes."""
    return _PRINTABLE.fullmatch(text) is not None and "=?" not in text


def _q_octet(octet: int) -> str:
    if octet in _Q_SAFE:
        return chr(octet)
    return "_" if octet == 0x20 else f"={octet:02X}"


def _encoded(data: bytes, encoding: str) -> str:
    if encoding == "q":
        return _Q_PREFIX + "".join(map(_q_octet, data)) + _SUFFIX
    return _B_PREFIX + base64.b64encode(data).decode() + _SUFFIX


def _words(text: str, first: int, encoding: str) -> list[str]:
    """``text`` as encoded words: the first at most ``first`` characters long, the others
    at most 75; each holds whole characters, so each decodes on its own (RFC 2047 §5)."""
    words: list[str] = []
    chunk, limit = b"", first
    for char in text:
        data = char.encode()
        if chunk and len(_encoded(chunk + data, encoding)) > limit:
            words.append(_encoded(chunk, encoding))
            chunk, limit = b"", MAX_ENCODED_WORD
        chunk += data
    if chunk:
        words.append(_encoded(chunk, encoding))
    return words


def encoded_words(text: str, first: int = MAX_ENCODED_WORD) -> list[str]:
    """``text`` as UTF-8 encoded words (RFC 2047), Q or B, whichever is shorter."""
    if first < 24:  # room for one 4-octet character in Q: =?utf-8?q?=F0=9F=98=80?=
        raise ValueError("no room for an encoded word")
    q, b = _words(text, first, "q"), _words(text, first, "b")
    return q if sum(map(len, q)) <= sum(map(len, b)) else b


def _fold(name: str, words: Sequence[str], width: int) -> str:
    """``Name: w1 w2`` with CRLF SP before a word that would pass ``width`` characters."""
    lines = [f"{name}:"]
    for word in words:
        if len(lines[-1]) > len(name) + 1 and len(lines[-1]) + 1 + len(word) > width:
            lines.append(f" {word}")
        else:
            lines[-1] += f" {word}"
    return CRLF.join(lines)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise HeaderError(f"not a header field name: {name!r}")


def structured(name: str, value: str) -> str:
    """A field whose value our code composed from checked parts (a date, an id, URLs):
    written as it is, refused unless it is printable ASCII without ``=?`` on one line."""
    _check_name(name)
    if not is_literal(value) or len(name) + 2 + len(value) > MAX_LINE:
        raise HeaderError(f"{name}: not a one-line printable ASCII value: {value[:80]!r}")
    return f"{name}: {value}"


def unstructured(name: str, text: str) -> str:
    """A text field (RFC 5322 §3.2.5, e.g. Subject): the text as it is when literal,
    else as encoded words, so a reader shows exactly ``one_line(text)``."""
    _check_name(name)
    text = one_line(text)
    if is_literal(text) and len(name) + 2 + len(text) <= MAX_LINE:
        return f"{name}: {text}"
    return _fold(name, encoded_words(text, EW_LINE - len(name) - 2), EW_LINE)


def _phrase_words(text: str, first: int) -> list[str]:
    """A display name (RFC 5322 §3.2.5 phrase): a quoted string, or encoded words."""
    if is_literal(text):
        return ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(text, first)


def with_phrase(name: str, text: str, angle: str) -> str:
    """``Name: "phrase" <angle>`` (From, List-Id): ``angle`` must be printable ASCII."""
    _check_name(name)
    if not is_literal(angle) or any(c in angle for c in '<>" \\'):
        raise HeaderError(f"{name}: unusable address or id {angle!r}")
    text = one_line(text)
    words = _phrase_words(text, EW_LINE - len(name) - 2) if text else []
    width = MAX_LINE if words and words[0].startswith('"') else EW_LINE
    field = _fold(name, [*words, f"<{angle}>"], width)
    if any(len(line) > MAX_LINE for line in field.split(CRLF)):
        raise HeaderError(f"{name}: longer than {MAX_LINE} octets")
    return field


def check_addr_spec(value: str) -> str:
    """An ASCII dot-atom address (RFC 5322 §3.4.1) with no ``=?``, or HeaderError."""
    if not ADDR_SPEC.fullmatch(value) or "=?" in value or len(value) > 254:
        raise HeaderError(f"not an ASCII addr-spec usable in a header: {value!r}")
    return value


def mailbox(name: str, display_name: str, addr_spec: str) -> str:
    """``From: "Display Name" <addr>``: the name as text, never as header syntax."""
    return with_phrase(name, display_name, check_addr_spec(addr_spec))


_MAILBOX = re.compile(r"\s*(?:(?P<name>.*?)\s*<(?P<angle>[^<>]*)>|(?P<bare>[^<>\s]+))\s*")


def parse_mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of one configured ``Name <addr>``, ``"Name" <addr>`` or
    ``addr``. The name is taken as text: ``=?…?=`` in it stays literal characters."""
    match = _MAILBOX.fullmatch(value)
    if not match:
        raise HeaderError(f"not one address ('Name <addr>' or 'addr'): {value!r}")
    if match["bare"]:
        return "", check_addr_spec(match["bare"])
    name = match["name"] or ""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return one_line(name), check_addr_spec(match["angle"].strip())


def display_mailbox(display_name: str, addr_spec: str) -> str:
    """``"Display Name" <addr>`` in plain text (for settings and logs), which
    :func:`parse_mailbox` reads back to the same two values."""
    name = one_line(display_name).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{check_addr_spec(addr_spec)}>' if name else check_addr_spec(addr_spec)


def split_fields(head: bytes) -> list[bytes]:
    """The header block's fields, each with its continuation lines (CRLF SP/HTAB …)."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def mime_body(message: EmailMessage, policy: Policy) -> tuple[str, bytes]:
    """(the ``Content-Type`` field, the body) of a MIME message the library built: what we
    take from it. Its header block must be just MIME-Version and Content-Type."""
    data = message.as_bytes(policy=policy)
    check_header_block(data, ("MIME-Version", "Content-Type"))
    head, _, body = data.partition(b"\r\n\r\n")
    return split_fields(head)[1].decode("ascii"), body


def join(fields: Sequence[str], body: bytes) -> bytes:
    """The message: our fields, a blank line, the body."""
    return (CRLF.join(fields) + CRLF + CRLF).encode("ascii") + body


def field_names(fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(f.split(":", 1)[0] for f in fields)


def _decode(word: bytes) -> str:
    """What a reader shows for one of our encoded words (HeaderError if it is broken)."""
    encoding, payload = word[8:9], word[10:-2]
    try:
        if encoding == b"q":
            data = payload.replace(b"_", b" ")
            return re.sub(rb"=([0-9A-F]{2})", lambda m: bytes.fromhex(m[1].decode()), data).decode()
        return base64.b64decode(payload, validate=True).decode()
    except ValueError:
        raise HeaderError(f"a broken encoded word: {word!r}") from None


def check_header_block(data: bytes, names: Sequence[str]) -> None:
    """Refuse (HeaderError) unless the header block of ``data`` is exactly the fields
    ``names``, in order, in printable ASCII with CRLF line ends, no line over 998 octets,
    and every ``=?`` starts an encoded word of ours of at most 75 characters.

    The last check before sending, whatever happened to the bytes before it (template,
    serialisation, per-recipient substitution): run on every message, so it is one pass
    over the lines, with the encoded words looked at only when there is an ``=?``."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise HeaderError("no blank line after the header fields")
    head = data[:end]
    if _BAD_OCTET.search(head):
        raise HeaderError("a control or non-ASCII octet in the header fields")
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        raise HeaderError("a bare CR or LF in the header fields")
    found: list[bytes] = []
    for line in head.split(b"\r\n"):
        if len(line) > MAX_LINE:
            raise HeaderError(f"a header line over {MAX_LINE} octets")
        if line[:1] in (b" ", b"\t") and found:  # a continuation line of the last field
            if not line.strip():
                raise HeaderError("a header line of white space only")
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _NAME_OCTETS.fullmatch(name):
            raise HeaderError(f"not a header field: {line[:60]!r}")
        found.append(name)
    if [n.lower() for n in found] != [n.lower().encode() for n in names]:
        shown = [n.decode() for n in found]
        raise HeaderError(f"header fields {shown} are not the ones written: {list(names)}")
    if b"=?" not in head:
        return
    for word in _OUR_EW.findall(head):
        if len(word) > MAX_ENCODED_WORD:
            raise HeaderError(f"an encoded word of {len(word)} characters")
        if _CONTROL.search(_decode(word)):
            raise HeaderError(f"an encoded word that decodes to a control character: {word!r}")
    if b"=?" in _OUR_EW.sub(b"", head):
        raise HeaderError("an '=?' in the header fields that is not an encoded word of ours")

"""Signed tokens: round trip, expiry, tampering, purpose and key separation, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndication import tokens
from syndication.store.subscribers import Subscriber

SECRET = "k" * 40
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def subscriber(version: int = 1) -> Subscriber:
    return Subscriber(
        id="0123456789abcdef",
        email="reader@example.org",
        status="confirmed",
        frequency="daily",
        topics=(),
        language="en",
        created_at=NOW,
        confirmed_at=NOW,
        token_version=version,
    )


def test_round_trip_and_compact_url_safe():
    token = tokens.sign(SECRET, "confirm", "abc123", NOW + timedelta(hours=48))
    assert tokens.verify(SECRET, token, "confirm", NOW) == "abc123"
    assert len(token) < 80
    assert all(c.isalnum() or c in "-_." for c in token)


def test_confirm_token_expires_after_48_hours():
    token = tokens.confirm_token(SECRET, "abc123", NOW)
    assert tokens.verify(SECRET, token, "confirm", NOW + timedelta(hours=47, minutes=59)) == (
        "abc123"
    )
    with pytest.raises(tokens.TokenExpired):
        tokens.verify(SECRET, token, "confirm", NOW + timedelta(hours=48))


def test_wrong_purpose_or_key_is_invalid():
    token = tokens.confirm_token(SECRET, "abc123", NOW)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify(SECRET, token, "manage", NOW)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify("x" * 40, token, "confirm", NOW)


def test_edited_expiry_is_invalid_not_expired_nor_accepted():
    token = tokens.confirm_token(SECRET, "abc123", NOW - timedelta(days=10))
    mac = token.split(".")[1]
    later = tokens.sign("other-key" * 5, "confirm", "abc123", NOW + timedelta(days=10))
    forged = later.split(".")[0] + "." + mac
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify(SECRET, forged, "confirm", NOW)


@given(st.integers(min_value=0), st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-_"))
def test_any_single_character_change_is_refused(position: int, char: str):
    token = tokens.confirm_token(SECRET, "abc123", NOW)
    i = position % len(token)
    if token[i] == char:
        return
    tampered = token[:i] + char + token[i + 1 :]
    # Also a change in the padding bits of the last character, which decodes to the same
    # bytes: a token has one spelling only.
    with pytest.raises(tokens.TokenError):
        tokens.verify(SECRET, tampered, "confirm", NOW)


@given(
    st.integers(min_value=0),
    st.text(alphabet="=!~+/ \t\n%.", min_size=1, max_size=3),
)
def test_a_token_has_one_spelling(position: int, junk: str):
    """Padding, characters outside base64url and whitespace make another string that the
    decoder alone would read as the same token: each is refused."""
    token = tokens.confirm_token(SECRET, "abc123", NOW)
    i = position % (len(token) + 1)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify(SECRET, token[:i] + junk + token[i:], "confirm", NOW)
    body, mac = token.split(".")
    for variant in (f"{body}=.{mac}", f"{body}.{mac}==", token.replace("-", "+")):
        if variant != token:
            with pytest.raises(tokens.TokenInvalid):
                tokens.verify(SECRET, variant, "confirm", NOW)


@pytest.mark.parametrize("junk", ["", ".", "a.b.c", "!!!.???", "x" * 600, "YWJj.", ".YWJj"])
def test_malformed_tokens_are_invalid(junk: str):
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify(SECRET, junk, "confirm", NOW)


def test_manage_token_never_expires_but_carries_the_version():
    token = tokens.manage_token(SECRET, subscriber(3))
    assert tokens.parse_manage(SECRET, token, NOW + timedelta(days=3650)) == (
        "0123456789abcdef",
        3,
    )
    assert tokens.manage_token(SECRET, subscriber(4)) != token


def test_previous_keys_verify_but_never_sign():
    old, new = "o" * 40, "n" * 40
    token = tokens.sign(old, "manage", "abc:1", None)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify(new, token, "manage", NOW)
    assert tokens.verify(new, token, "manage", NOW, previous=(old,)) == "abc:1"
    assert tokens.parse_manage(new, token, NOW, previous=("x" * 40, old)) == ("abc", 1)
    with pytest.raises(tokens.TokenInvalid):  # a previous key does not widen the purpose
        tokens.verify(new, token, "confirm", NOW, previous=(old,))
    fresh = tokens.manage_token(new, subscriber())
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify(old, fresh, "manage", NOW)

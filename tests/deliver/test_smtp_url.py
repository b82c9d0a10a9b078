"""One reading of ``SYNDICATION_SMTP_URL``: digests, confirmations and ``syndication check``
connect to the same port (issue #13: with ``smtp+starttls://host`` and no port, digests
used to connect on 587 and confirmations on 25)."""

from __future__ import annotations

import dataclasses

import pytest
import redis

from syndication.checks import _smtp
from syndication.config import Settings
from syndication.deliver.smtp import DEFAULT_PORTS, SmtpSender, SmtpTarget
from syndication.events import RecordingEvents
from syndication.services.confirmations import make_confirmation_service
from syndication.services.digests import make_digest_service

CASES = [
    ("smtp://mail.example.org", 25),
    ("smtp+starttls://mail.example.org", 587),
    ("smtps://mail.example.org", 465),
    ("smtp+starttls://user:pw@mail.example.org:2525", 2525),
]


def test_default_ports() -> None:
    assert DEFAULT_PORTS == {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@pytest.mark.parametrize(("url", "port"), CASES)
def test_every_path_connects_to_the_same_port(
    settings: Settings, redis_client: redis.Redis, url: str, port: int
) -> None:
    settings = dataclasses.replace(settings, smtp_url=url)
    digests = make_digest_service(settings, redis_client, RecordingEvents())
    confirmations = make_confirmation_service(settings, redis_client, RecordingEvents())
    sender_factory = digests.dispatch.sender_factory
    assert sender_factory is not None and confirmations.sender_factory is not None
    senders = [sender_factory(), confirmations.sender_factory()]
    targets = {s.target for s in senders if isinstance(s, SmtpSender)}
    assert len(targets) == 1 and len(senders) == 2
    (target,) = targets
    assert target == SmtpTarget.parse(url)
    assert (target.host, target.port) == ("mail.example.org", port)


def test_the_check_probes_the_senders_port(settings: Settings) -> None:
    """``syndication check`` names the port it tried, which is the senders' (nothing listens
    on port 9 of loopback, so the probe fails fast and says where)."""
    for scheme in DEFAULT_PORTS:
        url = f"{scheme}://127.0.0.1"
        check = _smtp(dataclasses.replace(settings, smtp_url=url), timeout=2.0)
        assert SmtpTarget.parse(url).where in check.detail
    check = _smtp(dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:9"), timeout=2.0)
    assert check.status == "fail" and "smtp://127.0.0.1:9" in check.detail

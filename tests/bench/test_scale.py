"""``make scale`` cannot rot: bench/scale.py's machinery on 200 readers and one edition, on
its own real stack (redis-server, a ``syndication worker`` with two prefork processes) and
a real SMTP server on loopback (tests/support/smtp.py), with every figure in the report."""

from __future__ import annotations

import math

import pytest

from bench.scale import SizeReport, measure, report
from tests.support.smtp import Script, ScriptedSmtp

pytestmark = pytest.mark.slow

READERS = 200


def test_scale_reports_every_figure() -> None:
    server = ScriptedSmtp(Script(keep_bodies=False)).start()
    try:
        measured: SizeReport = measure(READERS, editions=1, smtp_port=server.port)
    finally:
        server.stop()
    assert server.count() == READERS  # every reader's message reached the server once
    assert len(measured.editions) == 1
    figures = measured.figures()
    names = [name for name, _, _ in figures]
    for wanted in (
        "subscriber import",
        "Redis bytes per subscriber",
        "edition 1: freeze",
        "edition 1: send",
        "edition 1: used_memory when done",
        "edition 1: used_memory compacted",
        "edition 1: bytes/recipient before compaction",
        "edition 1: bytes/recipient compacted",
        "peak RSS, worker parent",
        "peak RSS, pool child 1",
        "peak RSS, pool child 2",
        "freezing process grew during a freeze",
    ):
        assert wanted in names, (wanted, names)
    for name, _, value in figures:
        assert math.isfinite(value), name
        if not name.endswith(("compacted", "during a freeze")):
            assert value > 0, (name, value)  # these two are differences: may be ≤ 0
    text = report([measured, measured], "test machine")
    assert "×(200/200)" in text
    verdicts = [line for line in text.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(verdicts) == 2, text
    # The same run twice is flat; the compaction verdict is not asked of 200 readers (the
    # edition's constant part alone is more than 64 B a recipient of so short a list).
    assert verdicts[0].startswith("PASS  peak worker RSS flat"), text

"""The fault suite's quick part (issue #12): every fault of tests/support/faults.py on a few
hundred readers, with real redis-server (AOF, the host-crash shim), real worker processes
and a recording SMTP server. ``make faults`` runs the same faults at 5,000 readers and
prints the table.

Targets, per fault: duplicates ≤ the SMTP transactions in flight at the fault (0 for a host
crash once begins are durable), no reader missing unless the ledger reports them uncertain,
and the edition finishing with no operator action.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.faults import FAULTS, Outcome

pytestmark = pytest.mark.slow

QUICK = 300
TARGETED = [name for name in FAULTS if name != "host_crash_not_durable"]


@pytest.mark.parametrize("fault", TARGETED)
def test_fault_within_targets(fault: str, tmp_path: Path) -> None:
    outcome: Outcome = FAULTS[fault](tmp_path, QUICK)
    print(outcome.row())
    assert outcome.recovered, outcome
    assert outcome.missing == 0, outcome
    assert outcome.duplicates <= outcome.in_flight, outcome
    assert outcome.delivered_once + outcome.uncertain >= outcome.recipients, outcome
    if fault.startswith("host_crash"):
        assert outcome.duplicates == 0, outcome  # begins were durable before DATA
    if fault == "deploy":
        assert outcome.uncertain == 0, outcome  # nothing cut off mid-transaction
    if fault == "dropped_mid_data":
        assert outcome.uncertain == 10, outcome  # honest: each drop reported, none resent

"""The shim behind ``make test-shifted`` moves the wall clock and nothing else.

If it stopped working, ``make test-shifted`` would pass vacuously on today's date; if it
moved the monotonic clock too (as libfaketime does), timed waits would hang."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TESTS

SOURCE = TESTS / "tools" / "clockshift.c"
PROBE = """
import json, threading, time
from datetime import UTC, datetime
t0 = time.monotonic()
threading.Event().wait(0.05)  # a timed wait on the monotonic clock
time.sleep(0.01)
print(json.dumps({"wall": datetime.now(UTC).timestamp(), "time": time.time(),
                  "waited": time.monotonic() - t0}))
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler: make test-shifted needs cc")
    out = tmp_path_factory.mktemp("clockshift") / "clockshift.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(SOURCE), "-ldl"], check=True)
    return out


def probe(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("days", [400, -200])
def test_wall_clock_moves_by_the_shift_and_waits_still_return(shim: Path, days: int) -> None:
    # The wall clock is the subject here. The unshifted readings come from the same kind of
    # process without the shim (not from this one, which ``make test-shifted`` shifts too).
    plain = {"PATH": "/usr/bin"}
    before = probe(plain)["time"]
    got = probe({**plain, "LD_PRELOAD": str(shim), "CLOCKSHIFT_SECONDS": str(days * 86400)})
    after = probe(plain)["time"]
    shift = days * 86400
    for reading in (got["wall"], got["time"]):
        assert before + shift <= reading <= after + shift
    assert got["waited"] >= 0.05  # monotonic time is real: the wait took its time, and ended

"""``python -m tests.faults [--recipients N] [FAULT ...]`` (``make faults``): every fault of
tests/support/faults.py at full size, one table row each; exit 1 if a target is missed."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.support.faults import FAULTS, describe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--recipients", type=int, default=5000, help="readers per edition")
    parser.add_argument("faults", nargs="*", metavar="FAULT", help=", ".join(FAULTS))
    args = parser.parse_args(argv)
    unknown = [name for name in args.faults if name not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)} (known: {', '.join(FAULTS)})")
    outcomes = []
    for name in args.faults or list(FAULTS):
        print(f"{name}: {args.recipients:,} recipients …", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"fault-{name}-") as tmp:
            outcome = FAULTS[name](Path(tmp), args.recipients)
        outcomes.append(outcome)
        print(f"  {outcome.row()}", flush=True)
    print()
    print(describe(outcomes))
    missed = [o.fault for o in outcomes if not o.ok]
    if missed:
        print(f"\nTargets missed: {', '.join(missed)}")
        return 1
    print("\nEvery fault within its targets (duplicates ≤ in flight, missing 0, unattended).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

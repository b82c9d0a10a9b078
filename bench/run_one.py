"""Run one bench module on its own stack and print its table (nothing is written).

    .venv/bin/python -m bench.run_one bench.feed_serving

For trying a bench before it is registered in ``bench/run.py``; errors end as failed rows,
as there.
"""

from __future__ import annotations

import importlib
import signal
import sys
import traceback

from bench.common import Bench, Row, Stack, progress
from bench.run import _terminate, table


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.run_one bench.MODULE", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    bench: Bench = importlib.import_module(argv[0]).BENCH
    rows: list[Row]
    with Stack() as stack:
        progress(f"=== {bench.title} ===")
        try:
            rows = bench.run(stack)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            rows = [spec.failed(reason) for spec in bench.rows]
            stack.keep_logs = True
    print(table(rows))
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

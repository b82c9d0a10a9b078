"""``make bench``: start a real stack, run every registered bench, print and save the rows.

Adding a row: write ``bench/<name>.py`` with ``BENCH = Bench(title, (RowSpec, …), run)``
(see ``bench/common.py``) and add the module to ``BENCHES`` below.

Exit status: 0 when every row was measured, even if a target was missed (the table says
so); 1 when a bench could not measure (its rows say why); 2 when the stack did not start.
Set ``BENCH_KEEP=1`` to keep the worker/web logs and Redis data; they are kept anyway
when something failed.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/run.py` puts bench/ first, not the repo

from bench import (  # noqa: E402
    digest_send,
    edition_retention,
    email_build,
    feed_build,
    feed_serving,
    import_rate,
    ledger_durability,
    partner_feed,
    publish_latency,
    subscriber_bulk,
)
from bench.common import Bench, Row, Stack, progress  # noqa: E402

BENCHES: list[Bench] = [
    publish_latency.BENCH,
    import_rate.BENCH,
    subscriber_bulk.BENCH,
    feed_build.BENCH,
    feed_serving.BENCH,
    partner_feed.BENCH,
    email_build.BENCH,
    digest_send.BENCH,
    ledger_durability.BENCH,
    edition_retention.BENCH,
]
RESULTS = ROOT / "bench" / "results.json"


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    header = ("name", "value", "unit", "reference", "ratio", "target", "result")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        ref = "—" if row.reference is None else f"{_fmt(row.reference)} {row.reference_unit}"
        ratio = "—" if row.ratio is None else f"{row.ratio:.3g}×"
        result = "pass" if row.ok else ("FAIL (error)" if row.error else "FAIL")
        lines.append(
            (
                row.name,
                _fmt(row.value),
                row.unit,
                ref,
                ratio,
                str(row.target) if row.target else "—",
                result,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {1, 4}  # numbers
    out = []
    for k, line in enumerate(lines):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    errors = [f"  {row.name}: {row.error}" for row in rows if row.error]
    if errors:
        out += ["", "errors:", *errors]
    return "\n".join(out)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `with Stack()`, which stops everything


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    rows: list[Row] = []
    try:
        with Stack() as stack:
            for bench in BENCHES:
                progress(f"=== {bench.title} ===")
                try:
                    stack.check_alive()
                    rows += bench.run(stack)
                except Exception as exc:
                    traceback.print_exc(file=sys.stderr)
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                    rows += [spec.failed(reason) for spec in bench.rows]
                    stack.keep_logs = True
    except (RuntimeError, OSError) as exc:
        print(f"bench: the stack did not start or stop cleanly: {exc}", file=sys.stderr)
        return 2
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print(table(rows))
    RESULTS.write_text(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

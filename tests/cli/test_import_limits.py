"""``syndication import`` holds files to the limits the API holds requests to: an oversized
file is one line and exit 1, and the rest of the batch is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from syndication.ingest.files import MAX_FILE_BYTES
from syndication.models import MAX_BODY_BYTES
from tests.support import ROOT, article_data


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndication.cli", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_oversized_files_are_refused_one_line_each_the_rest_imported(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Dates well in the past: the CLI checks them against the machine's clock.
    def article(n: int, **extra: object) -> str:
        return json.dumps(article_data(n, published_at="2020-09-04T12:00:00Z", **extra))

    (tmp_path / "a-good.json").write_text(article(1))
    (tmp_path / "b-big-body.json").write_text(article(2, body_html="<p>" + "x" * MAX_BODY_BYTES))
    with (tmp_path / "c-huge.json").open("wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_FILE_BYTES + 1)
    (tmp_path / "d-long-name.json").write_text(article(4, authors=["N" * 201]))
    (tmp_path / "e-good.json").write_text(article(5))

    out = run(env, "import", str(tmp_path))
    assert out.returncode == 1
    assert "5 file(s), 2 article(s): 2 created" in out.stdout
    failed = [line for line in out.stdout.splitlines() if line.startswith("  failed:")]
    assert failed == [
        f"  failed: {tmp_path / 'b-big-body.json'}: body_html: must be at most"
        f" {MAX_BODY_BYTES} bytes of UTF-8 (got {MAX_BODY_BYTES + 7})",  # <p>…</p>
        f"  failed: {tmp_path / 'c-huge.json'}: file is larger than {MAX_FILE_BYTES} bytes",
        f"  failed: {tmp_path / 'd-long-name.json'}: authors.0: must be at most 200 characters"
        " (got 201)",
    ]
    assert "3 file(s) could not be imported" in out.stderr

"""The operator's command line, run as a user runs it: a real process, real Redis."""

from __future__ import annotations

import base64
import functools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from syndication.config import load_settings
from syndication.embedded_redis import free_port
from tests.support import ROOT
from workers.celery_app import beat_schedule

FIXTURES = ROOT / "tests" / "fixtures" / "ingest"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndication.cli", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_import_examples_then_again_changes_nothing(env):
    first = run(env, "import", "examples/articles", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["files"] == 6 and report["errors"] == []
    assert set(report["outcomes"].values()) == {"created"}
    assert "peru-familiar-stalemate-shining-path-rebels" in report["outcomes"]
    again = run(env, "import", "examples/articles")
    assert again.returncode == 0
    assert again.stdout.strip() == "6 file(s), 6 article(s): 6 unchanged"


def test_bad_files_are_listed_good_ones_imported(env, tmp_path: Path):
    good = json.loads((ROOT / "examples/articles/coca-prices-putumayo-border.json").read_text())
    (tmp_path / "a-good.json").write_text(json.dumps(good))
    (tmp_path / "b-broken.json").write_text("{ not json")
    (tmp_path / "c-no-title.json").write_text(json.dumps({**good, "title": ""}))
    out = run(env, "import", str(tmp_path))
    assert out.returncode == 1
    assert "3 file(s), 1 article(s): 1 created" in out.stdout
    failed = [line for line in out.stdout.splitlines() if line.startswith("  failed:")]
    assert len(failed) == 2
    assert "b-broken.json" in failed[0] and "c-no-title.json" in failed[1]
    assert "title" in failed[1]
    assert "2 file(s) could not be imported" in out.stderr


def test_a_deeply_nested_file_is_one_line_and_the_batch_goes_on(env, tmp_path: Path):
    good = json.loads((ROOT / "examples/articles/coca-prices-putumayo-border.json").read_text())
    (tmp_path / "a-deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "b-deep-object.json").write_text('{"a":' * 5000 + "1" + "}" * 5000)
    (tmp_path / "c-good.json").write_text(json.dumps(good))
    out = run(env, "import", str(tmp_path))
    assert out.returncode == 1
    assert "3 file(s), 1 article(s): 1 created" in out.stdout
    failed = [line for line in out.stdout.splitlines() if line.startswith("  failed:")]
    assert [("a-deep.json" in f, "nested too deeply" in f) for f in failed[:1]] == [(True, True)]
    assert len(failed) == 2 and "b-deep-object.json" in failed[1]
    assert "Traceback" not in out.stderr + out.stdout
    assert out.stderr.strip() == "2 file(s) could not be imported"


def test_url_names_one_file_only(env):
    out = run(env, "import", "examples/articles", "--url", "https://insightcrime.org/x/")
    assert out.returncode == 1 and "exactly one" in out.stderr


def test_unreachable_redis_is_one_line_and_exit_3(env):
    port = free_port()
    out = run(
        {**env, "SYNDICATION_REDIS_URL": f"redis://127.0.0.1:{port}/0"},
        "import",
        "examples/articles",
    )
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot reach Redis at redis://127.0.0.1:{port}/0")


@pytest.fixture
def feed_server() -> Iterator[str]:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(FIXTURES))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _with_sources(env: dict[str, str], tmp_path: Path, *sources: str) -> dict[str, str]:
    """``env`` with a config listing ``sources`` (TOML lines, one table each)."""
    toml = (ROOT / "examples/insightcrime.toml").read_text()
    for source in sources:
        toml += f"\n[[publisher.sources]]\n{source}\n"
    (tmp_path / "sources.toml").write_text(toml)
    return {**env, "SYNDICATION_CONFIG": str(tmp_path / "sources.toml")}


def test_poll_a_feed_twice(env, feed_server, tmp_path: Path):
    # A source on loopback is polled only when configured (issue 11: SSRF).
    env = _with_sources(env, tmp_path, f'url = "{feed_server}/"')
    first = run(env, "poll", f"{feed_server}/rss.xml", "--json")
    assert first.returncode == 0, first.stderr
    outcomes = json.loads(first.stdout)["outcomes"]
    assert outcomes and set(outcomes.values()) == {"created"}
    second = run(env, "poll", f"{feed_server}/rss.xml")
    assert second.returncode == 0
    assert "not modified" in second.stdout
    missing = run(env, "poll", f"{feed_server}/nope.xml")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert len(missing.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
        ("http://localhost:{port}/rss.xml", "localhost resolves to .*, loopback"),
        ("http://127.0.0.1:{port}/rss.xml", "127.0.0.1 is loopback"),
    ],
)
def test_poll_refuses_an_address_the_source_is_not_configured_on(env, feed_server, url, reason):
    port = feed_server.rsplit(":", 1)[1]
    out = run(env, "poll", url.format(port=port))
    assert out.returncode == 1 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert re.match(rf"error: {re.escape(url.format(port=port))}: refused: {reason}", line), line


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """Sends the headers and one byte of the body, then nothing until the test ends."""
    release = threading.Event()

    class Stall(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"<")
            self.wfile.flush()
            release.wait()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    release.set()
    server.shutdown()
    server.server_close()


def test_poll_gives_up_at_the_sources_deadline(env, stalling_server, tmp_path: Path):
    """The wall clock is the subject: 1 s of real waiting, no assertion on how long."""
    url = f"{stalling_server}/feed"
    env = _with_sources(env, tmp_path, f'url = "{url}"\ndeadline_s = 1')
    out = run(env, "poll", url)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"error: {url}: gave up after 1 s (deadline)"]


def test_check_reports_each_line(env):
    out = run(env, "check")
    assert out.returncode == 0, out.stdout
    checks = out.stdout.split("\n\n", 1)[0].splitlines()
    assert checks and all(line.startswith(("OK", "WARN")) for line in checks)
    no_token = {k: v for k, v in env.items() if k != "SYNDICATION_API_TOKEN"}
    bad = run(no_token, "check", "--json")
    assert bad.returncode == 2
    doc = json.loads(bad.stdout)
    failing = [c["check"] for c in doc["checks"] if c["status"] == "fail"]
    assert failing == ["api token"]


def test_configured_sources_are_polled_on_the_beat(env, tmp_path: Path):
    toml = (ROOT / "examples/insightcrime.toml").read_text() + (
        '\n[[publisher.sources]]\nurl = "https://example.org/feed/"\ninterval_minutes = 5\n'
    )
    (tmp_path / "s.toml").write_text(toml)
    settings = load_settings({**env, "SYNDICATION_CONFIG": str(tmp_path / "s.toml")})
    schedule = beat_schedule(settings)
    polls = [v for v in schedule.values() if v["task"] == "ingest.poll_source"]
    assert len(polls) == 1
    assert polls[0]["args"] == ["https://example.org/feed/", "auto"]
    assert polls[0]["schedule"].total_seconds() == 300


def test_check_warns_of_open_metrics_on_a_public_address(env):
    def metrics(**changed: str) -> dict[str, str]:
        out = run({**env, **changed}, "check", "--json")
        return {c["check"]: c for c in json.loads(out.stdout)["checks"]}["metrics"]

    public = metrics(SYNDICATION_PUBLIC_URL="https://news.example.org")
    assert public["status"] == "warn" and "SYNDICATION_METRICS_TOKEN" in public["detail"]
    assert metrics(SYNDICATION_PUBLIC_URL="http://127.0.0.1:8000")["status"] == "ok"
    token = "metrics-token-0123456789"
    guarded = metrics(
        SYNDICATION_PUBLIC_URL="https://news.example.org", SYNDICATION_METRICS_TOKEN=token
    )
    assert guarded["status"] == "ok"


def test_check_warns_what_bulk_senders_need_and_prints_the_dns_records(env, tmp_path: Path):
    """http and no DKIM are warnings (exit 0), each saying why; the records to publish
    follow, from the configuration (the DKIM key's public half is openssl's)."""
    out = run(env, "check")
    assert out.returncode == 0, out.stdout
    lines = {line.split(":", 1)[0][5:]: line for line in out.stdout.splitlines()}
    assert lines["one-click unsubscribe"].startswith("WARN ")
    assert (
        "https" in lines["one-click unsubscribe"] and "RFC 8058" in lines["one-click unsubscribe"]
    )
    assert lines["dkim"].startswith("WARN ") and "bulk senders" in lines["dkim"]
    assert "the exit code stays 0" in out.stdout
    assert '_dmarc.testserver. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@testserver"' in (
        out.stdout
    )

    key = tmp_path / "dkim.pem"
    openssl = ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"]
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(openssl, check=True, capture_output=True).stdout
    signed = {
        **env,
        "SYNDICATION_PUBLIC_URL": "https://news.example.org",
        "SYNDICATION_MAIL_FROM": "News <news@example.org>",
        "SYNDICATION_MAIL_ENVELOPE_FROM": "bounces@mail.example.org",
        "SYNDICATION_DKIM_SELECTOR": "d2026",
        "SYNDICATION_DKIM_DOMAIN": "example.org",
        "SYNDICATION_DKIM_KEY_FILE": str(key),
        "SYNDICATION_DMARC_RUA": "reports@example.org",
    }
    doc = json.loads(run(signed, "check", "--json").stdout)
    status = {c["check"]: c["status"] for c in doc["checks"]}
    assert status["one-click unsubscribe"] == status["dkim"] == status["sender domains"] == "ok"
    records = {r["name"]: r["value"] for r in doc["dns_records"]}
    assert records["d2026._domainkey.example.org"] == (
        "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    )
    assert records["_dmarc.example.org"] == "v=DMARC1; p=none; rua=mailto:reports@example.org"
    assert records["mail.example.org"].startswith("v=spf1 ")

    foreign = {**signed, "SYNDICATION_MAIL_ENVELOPE_FROM": "bounces@relay.example.net"}
    doc = json.loads(run(foreign, "check", "--json").stdout)
    senders = {c["check"]: c for c in doc["checks"]}["sender domains"]
    assert senders["status"] == "warn" and "not aligned" in senders["detail"]

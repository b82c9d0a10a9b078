"""Operations: /metrics, /healthz, structured logs without secrets, ``syndication check``.

Real Redis, real requests through FeedFront, a real worker process, a real uvicorn process
for the log test, a real SMTP server (MailCatcher) for the check command.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.clock import system_clock
from syndication.config import AdminConfig, Settings
from syndication.context import Context
from syndication.deliver.mail_catcher import MailCatcher
from syndication.embedded_redis import free_port
from syndication.logging_setup import RedactingFilter, configure_logging
from syndication.metrics import (
    FAMILIES,
    Family,
    escape_label,
    parse_exposition,
    render,
)
from syndication.models import Article
from syndication.store.metrics import BufferedMetrics, Heartbeats, Metrics
from syndication.web.app import create_app
from syndication.web.feed_front import FeedFront
from syndication.web.ops import MeteredRequests, make_router
from tests.support import ROOT, article_data, wait_for
from tests.support.workers import WorkerProcess
from workers.observability import record_result

RSS = "/feeds/topic/coca.rss"
# One sample line of the text format: name, optional {labels}, a number.
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(
    rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{{{_LABEL}(?:,{_LABEL})*\}})? "
    r"(?:[-+]?[0-9.]+(?:e[-+]?[0-9]+)?|\+Inf|-Inf|NaN)$"
)


def check_exposition(text: str) -> dict[str, float]:
    """Every line is a HELP, a TYPE or a well-formed sample; each family's TYPE comes once,
    before its samples."""
    typed: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in typed and kind in ("counter", "gauge", "histogram"), line
            typed[name] = kind
            continue
        assert _SAMPLE.match(line), f"not a sample line: {line!r}"
        name = line.split("{")[0].split(" ")[0]
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"sample before its TYPE: {line!r}"
    return parse_exposition(text)


def _app(ctx: Context) -> FastAPI:
    app = create_app(ctx)
    # Ours first, so its /healthz answers (the lead moves /healthz out of app.py).
    app.router.routes[:0] = make_router(ctx).routes
    return app


@pytest.fixture
def ctx(context: Context) -> Context:
    for n, topics in ((1, ["Coca"]), (2, ["Coca", "Mining"])):
        context.articles.accept(Article.model_validate(article_data(n, topics=topics)))
    context.feeds.rebuild_dirty()
    return context


@pytest.fixture
def metered(ctx: Context) -> Iterator[tuple[TestClient, BufferedMetrics]]:
    metrics = BufferedMetrics(ctx.client, ctx.settings.key_prefix, interval=0.05)
    app = MeteredRequests(FeedFront(_app(ctx), ctx), ctx, metrics)
    with TestClient(app) as client:
        yield client, metrics
    metrics.stop()


def scrape(client: TestClient) -> dict[str, float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return check_exposition(resp.text)


def test_feed_requests_are_counted_by_status_and_feed(metered, ctx):
    client, _ = metered
    before = scrape(client)
    assert before["syndication_feed_documents_built_total"] == 0
    for _ in range(3):  # the first may go through FastAPI, the rest through FeedFront
        ok = client.get(RSS)
        assert ok.status_code == 200
    etag = ok.headers["etag"]
    for _ in range(2):
        assert client.get(RSS, headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/feeds/topic/no-such-topic.rss").status_code == 404
    assert client.get("/feeds/not-a-feed").status_code == 404
    assert client.get("/feeds/all.json").status_code == 200

    def counted() -> dict[str, float] | None:
        # The last request is a 200: wait for it too (a flush may fall between the two).
        got = scrape(client)
        last = got.get('syndication_feed_requests_by_feed_total{feed="all"}') == 1
        return (
            got if got.get('syndication_feed_requests_total{status="404"}') == 2 and last else None
        )

    got = wait_for(counted, timeout=10)
    assert isinstance(got, dict)
    assert got['syndication_feed_requests_total{status="200"}'] == 4
    assert got['syndication_feed_requests_total{status="304"}'] == 2
    assert got['syndication_feed_requests_by_feed_total{feed="topic/coca"}'] == 5
    assert got['syndication_feed_not_modified_by_feed_total{feed="topic/coca"}'] == 2
    assert got['syndication_feed_requests_by_feed_total{feed="all"}'] == 1
    # a 404 names a feed the client made up: never a label
    assert not [k for k in got if "no-such-topic" in k]
    # the numbers are in Redis, for every process to add to
    raw = ctx.client.hgetall(f"{ctx.settings.key_prefix}{{metrics}}:feed_requests_total")
    assert raw == {b"200": b"4", b"304": b"2", b"404": b"2"}


def test_counts_survive_a_redis_blip_and_add_up_across_processes(ctx):
    prefix = ctx.settings.key_prefix
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    away = Metrics(dead, prefix)
    away.add("feed_requests_total", "200", n=3)
    with pytest.raises(redis.ConnectionError):
        away.flush()
    away.client = ctx.client  # Redis is back: nothing was lost
    away.flush()
    other = Metrics(ctx.client, prefix)  # another process, same hash
    other.add("feed_requests_total", "200", n=2)
    other.flush()
    assert Metrics(ctx.client, prefix).read()["feed_requests_total"] == {"200": 5.0}


def test_task_results_and_histogram_render(ctx):
    m = Metrics(ctx.client, ctx.settings.key_prefix)
    record_result(m, "mail.send_batch", {"sent": 7, "failed": 1, "uncertain": 0})
    record_result(m, "mail.recover", [{"uncertain": 2}, {"uncertain": 0}])
    record_result(m, "feeds.rebuild_dirty", ["u1", "u2", "u3"])
    m.add("task_runs_total", "mail.send_batch", "SUCCESS")
    for seconds in (0.01, 0.3, 0.3, 400.0):
        m.observe("task_duration_seconds", "mail.send_batch", seconds=seconds)
    m.flush()
    got = check_exposition(render(m.read()))
    assert got['syndication_emails_total{outcome="sent"}'] == 7
    assert got['syndication_emails_total{outcome="failed"}'] == 1
    assert got['syndication_emails_total{outcome="uncertain"}'] == 2
    assert got["syndication_feed_documents_built_total"] == 3
    assert got['syndication_task_runs_total{task="mail.send_batch",state="SUCCESS"}'] == 1
    bucket = 'syndication_task_duration_seconds_bucket{task="mail.send_batch",le="%s"}'
    assert got[bucket % "0.05"] == 1
    assert got[bucket % "0.5"] == 3
    assert got[bucket % "300.0"] == 3
    assert got[bucket % "+Inf"] == 4
    assert got['syndication_task_duration_seconds_count{task="mail.send_batch"}'] == 4
    total = got['syndication_task_duration_seconds_sum{task="mail.send_batch"}']
    assert total == pytest.approx(400.61)


def test_label_values_are_escaped():
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    family = Family("x_total", "help with \\ and\nnewline", "counter", ("feed",))
    FAMILIES[family.name] = family
    try:
        text = render({"x_total": {'we"ird\\na\nme': 1.0}})
    finally:
        del FAMILIES[family.name]
    check_exposition(text)
    assert 'syndication_x_total{feed="we\\"ird\\\\na\\nme"} 1' in text
    assert "# HELP syndication_x_total help with \\\\ and\\nnewline" in text


def test_healthz_is_503_without_a_worker(ctx):
    with TestClient(_app(ctx)) as client:
        resp = client.get("/healthz")
        assert resp.status_code == 503
        body = resp.json()
        assert body["status"] == "down" and body["redis"]["ok"] is True
        assert "no worker heartbeat" in body["reason"]
        assert body["workers"]["fresh"] == []
        web = client.get("/healthz/web")  # this process and Redis: what a web container probes
        assert web.status_code == 200 and web.json()["status"] == "ok"


def test_healthz_is_503_when_redis_is_down(settings):
    from syndication.events import RecordingEvents
    from syndication.store.connection import connect

    dead = connect(f"redis://127.0.0.1:{free_port()}/0", check=False)
    with TestClient(_app(Context(settings, RecordingEvents(), dead))) as client:
        for path in ("/healthz", "/healthz/web"):
            resp = client.get(path)
            assert resp.status_code == 503
            assert resp.json()["reason"].startswith("cannot reach Redis at redis://127.0.0.1:")
        assert client.get("/metrics").status_code == 503


def test_healthz_is_degraded_while_confirmation_emails_fail(ctx, clock):
    """Signups whose confirmations cannot get out make /healthz 503 "degraded" (the web and
    the workers are fine: /healthz/web stays 200); the counters and gauges show it."""
    import dataclasses

    from tests.support.smtp import ScriptedSmtp

    server = ScriptedSmtp()  # its port is reserved; nothing listens until start()
    failing = Context(
        dataclasses.replace(ctx.settings, smtp_url=server.url),
        ctx.events,
        ctx.client,
        clock=ctx.clock,
    )
    # A worker's heartbeat, written as workers/observability.py writes it: workers are up.
    Heartbeats(ctx.client, ctx.settings.key_prefix).beat("celery@test", {})
    svc = failing.confirmations
    try:
        with TestClient(_app(failing)) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            requests = []
            for i in range(3):
                result = failing.subscriptions.subscribe(f"reader{i}@example.org", "daily")
                assert result.confirmation is not None and result.confirmation.request
                requests.append(result.confirmation.request.request_id)
                assert svc.deliver(requests[-1]).outcome == "retry"
            resp = client.get("/healthz")
            body = resp.json()
            assert resp.status_code == 503 and body["status"] == "degraded"
            assert "confirmation emails: the last 3 confirmation attempts failed" in body["reason"]
            assert body["confirmations"]["open"] == 3 and body["workers"]["fresh"]
            assert client.get("/healthz/web").status_code == 200
            clock.advance(minutes=1)
            got = scrape(client)
            assert got['syndication_confirmation_emails_total{outcome="retry"}'] == 3
            assert got["syndication_confirmations_pending"] == 3
            assert got["syndication_confirmations_oldest_pending_seconds"] == 60
            server.start()
            for rid in requests:
                assert svc.deliver(rid).outcome == "sent"
            resp = client.get("/healthz")
            assert resp.status_code == 200 and resp.json()["confirmations"]["open"] == 0
            got = scrape(client)
            assert got['syndication_confirmation_emails_total{outcome="sent"}'] == 3
            assert got["syndication_confirmations_pending"] == 0
    finally:
        server.controller.stop(no_assert=True)


def test_healthz_200_with_a_real_worker_and_task_metrics(ctx, env, tmp_path: Path):
    from workers.celery_app import configure

    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        with TestClient(_app(ctx)) as client:

            def healthy() -> dict[str, object] | None:
                resp = client.get("/healthz")
                return resp.json() if resp.status_code == 200 else None

            body = wait_for(healthy, timeout=20)
            assert isinstance(body, dict) and body["status"] == "ok"
            assert len(body["workers"]["fresh"]) == 1  # type: ignore[index]
            configure(ctx.settings).send_task("ingest.flush_pending_events")

            def ran() -> dict[str, float] | None:
                got = scrape(client)
                key = (
                    "syndication_task_runs_total"
                    '{task="ingest.flush_pending_events",state="SUCCESS"}'
                )
                return got if got.get(key) else None

            got = wait_for(ran, timeout=30)
            assert isinstance(got, dict)
            count = 'syndication_task_duration_seconds_count{task="ingest.flush_pending_events"}'
            assert got[count] >= 1
            assert got["syndication_workers_alive"] == 1
    finally:
        worker.stop()
    # a clean shutdown says goodbye at once: no 30 s of false health
    with TestClient(_app(ctx)) as client:
        assert client.get("/healthz").status_code == 503


# -- logs ---------------------------------------------------------------------------------
def test_redacting_filter_covers_every_kind_of_secret(settings):
    import dataclasses
    import io
    import logging

    settings = dataclasses.replace(
        settings,
        admin=AdminConfig(password="admin password 1234"),
        previous_secret_keys=("p" * 40,),
    )
    stream = io.StringIO()
    handler = configure_logging(settings, stream=stream)
    try:
        log = logging.getLogger("syndication.test")
        token, key = settings.api_token, "pk_live_abcdefghijklmnop"
        assert token
        log.info("GET /partners/%s/feeds/all.rss", key, extra={"partner": "p1"})
        log.info("Authorization: Bearer %s", token)
        log.warning("smtp+starttls://news:hunter2hunter2@mail.example.org:587 said no")
        log.info("confirm for Reader@Example.org", extra={"edition": "daily-1", "to": "a@b.org"})
        try:
            raise ValueError(f"secret {settings.secret_key} in an exception")
        except ValueError:
            log.exception("boom", extra={"article_id": "abc"})
        log.info("login with %s, old key %s", settings.admin.password, "p" * 40)
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    for secret in (
        *(token, key, "hunter2hunter2", settings.secret_key, "Reader@", "a@b.org"),
        *("admin password 1234", "p" * 40),
    ):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert lines[0]["partner"] == "p1" and "/partners/[redacted]/" in lines[0]["message"]
    assert lines[3]["edition"] == "daily-1" and lines[3]["message"].startswith("confirm for email:")
    # the same address always hashes the same: one subscriber's lines can be followed
    same = RedactingFilter(email_key=settings.secret_key or "").redact("reader@example.org")
    assert lines[3]["message"] == f"confirm for {same}"
    assert lines[4]["article_id"] == "abc" and "[redacted]" in lines[4]["exc"]


APP = """
import logging
import uvicorn
from syndication.config import load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.logging_setup import uvicorn_log_config
from syndication.web.app import create_app
from syndication.web.ops import make_router


def app():
    ctx = Context(load_settings(), RecordingEvents())
    application = create_app(ctx)
    application.router.routes[:0] = make_router(ctx).routes
    return application


if __name__ == "__main__":
    import sys
    settings = load_settings()
    uvicorn.run("app_module:app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
                log_config=uvicorn_log_config(settings), access_log=True, app_dir=sys.argv[2])
"""


def test_a_real_server_logs_json_without_token_or_partner_key(ctx, env, tmp_path: Path):
    # The server is another process on its own clock (the system clock): the partner it
    # authenticates is added at that clock's now, not at the test's fixed one.
    _, key = ctx.partners.keys.add("Logged", now=system_clock())
    (tmp_path / "app_module.py").write_text(textwrap.dedent(APP))
    port = free_port()
    log = tmp_path / "web.log"
    token = env["SYNDICATION_API_TOKEN"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "app_module.py"), str(port), str(tmp_path)],
            env={"PATH": "/usr/bin:/bin", **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz/web"), timeout=30)
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/partners/{key}/feeds/all.rss").status_code == 200
        assert httpx.get(f"{base}/api/articles?token={token}", headers=auth).status_code < 500
        resp = httpx.post(f"{base}/api/articles", json={"url": "x"}, headers=auth)
        assert resp.status_code == 422
        spellings = (
            f"/partners//{key}/feeds/all.rss",
            f"/Partners/{key}/feeds/all.rss",
            f"/partners/feeds/all.rss?k={key}",
            f"/partners/feeds/all.rss?API_KEY={key}",
        )
        for path in spellings:  # not served, and not logged
            assert httpx.get(f"{base}{path}").status_code in (401, 404)
        wait_for(
            lambda: log.read_text().count('"uvicorn.access"') >= 4 + len(spellings), timeout=10
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert token not in text and key not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/partners/[redacted]/feeds/all.rss" in line["message"] for line in access)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# -- syndication check --------------------------------------------------------------------
def run_cli(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndication.cli", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        input=input,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_check_against_redis_and_a_real_smtp_server(env, tmp_path: Path):
    catcher = MailCatcher(tmp_path / "mail").start()
    try:
        out = run_cli({**env, "SYNDICATION_SMTP_URL": catcher.url}, "check")
    finally:
        catcher.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split(":", 1)[0][5:]: line for line in out.stdout.strip().splitlines()}
    for name in ("config", "redis", "secret key", "api token", "public url", "smtp"):
        assert lines[name].startswith("OK   "), lines[name]
    # bulk senders need DKIM: unconfigured is a warning, which leaves the exit code at 0
    assert lines["dkim"].startswith("WARN "), lines["dkim"]
    assert lines["templates"].startswith("OK   "), lines["templates"]
    assert f"smtp://127.0.0.1:{catcher.port} (EHLO, QUIT)" in lines["smtp"]
    assert "persistent (appendonly yes)" in lines["redis"]
    # no worker runs for this prefix: a warning, not a failure (workers may be elsewhere)
    assert lines["workers"].startswith("WARN ") and "syndication worker" in lines["workers"]
    assert catcher.messages() == []  # connect, EHLO, QUIT: nothing sent
    # /admin: off without a password, a warning with a plain one, OK with a hash
    assert lines["admin"].startswith("WARN ") and "/admin is off" in lines["admin"]
    plain = run_cli({**env, "SYNDICATION_ADMIN_PASSWORD": "a plain password"}, "check", "--json")
    admin = {c["check"]: c for c in json.loads(plain.stdout)["checks"]}["admin"]
    assert admin["status"] == "warn" and "PASSWORD_HASH" in admin["detail"]
    line = run_cli({**env}, "admin", "hash-password", input="a long enough password\n")
    assert line.returncode == 0, line.stderr
    hashed = {**env, "SYNDICATION_ADMIN_PASSWORD_HASH": line.stdout.strip()}
    admin = {c["check"]: c for c in json.loads(run_cli(hashed, "check", "--json").stdout)["checks"]}
    assert admin["admin"]["status"] == "ok"


def test_check_smtp_down_says_what_to_fix_and_exits_2(env):
    port = free_port()
    out = run_cli({**env, "SYNDICATION_SMTP_URL": f"smtp://127.0.0.1:{port}"}, "check", "--json")
    assert out.returncode == 2
    doc = json.loads(out.stdout)
    assert doc["ok"] is False
    failing = {c["check"]: c["detail"] for c in doc["checks"] if c["status"] == "fail"}
    assert list(failing) == ["smtp"]
    assert f"smtp://127.0.0.1:{port}" in failing["smtp"]
    assert "SYNDICATION_SMTP_URL" in failing["smtp"] and "running" in failing["smtp"]


def test_feeds_build_counts_changed_documents(env, settings: Settings, redis_client):
    imported = run_cli(env, "import", "examples/articles", "--json")
    assert imported.returncode == 0, imported.stderr
    out = run_cli(env, "feeds", "build", "--json")
    assert out.returncode == 0, out.stderr
    changed = json.loads(out.stdout)["changed"]
    assert changed
    stored = Metrics(redis_client, settings.key_prefix).read()
    assert stored["feed_documents_built_total"] == {"": float(len(changed))}
    again = run_cli(env, "feeds", "build")
    assert again.stdout.strip() == "every feed was already current"


def test_counting_a_request_makes_no_redis_round_trip():
    """Counting stays a dict update in memory: the recorder's Redis is a port nobody listens
    on, so a round trip per request would raise. (How fast it is: ``make bench``.)"""
    client = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    m = BufferedMetrics(client, "bench:", interval=3600, max_pending=10**9)
    for _ in range(20_000):
        m.add_field(("feed_requests_total", "200"))
    assert m.pending == 20_000  # all still in memory: nothing was sent, nothing lost

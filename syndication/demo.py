"""``syndication demo``: the whole service on one machine with nothing installed but Python.

Starts (unless ``SYNDICATION_REDIS_URL`` names one) an embedded redis-server with AOF, a
mail catcher, a Celery worker with beat, and the web app; imports the sample articles; prints
where to look; and on Ctrl-C stops every child it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx

from syndication.config import ConfigError, Settings, load_settings
from syndication.deliver.mail_catcher import MailCatcher
from syndication.embedded_redis import EmbeddedRedis
from syndication.processes import die_with_parent
from syndication.services.subscriptions import RateLimited
from syndication.store.connection import StoreUnavailable
from syndication.store.subscribers import CONFIRMED

if TYPE_CHECKING:
    from syndication.context import Context

EXAMPLES = Path("examples")


class DemoStopped(BaseException):
    """Raised by the signal handler, like KeyboardInterrupt, for SIGINT and SIGTERM alike."""


DEMO_READER = "demo@example.org"
DEMO_WEEKLY_READER = "weekly@example.org"
DEMO_SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def _persistent_secret(path: Path, nbytes: int) -> str:
    """Generated once per demo folder, so links and tokens survive a demo restart."""
    if path.is_file():
        return path.read_text().strip()
    value = secrets.token_urlsafe(nbytes)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_http(
    url: str, proc: subprocess.Popen[bytes], checkpoint: Callable[[], None], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkpoint()
        if proc.poll() is not None:
            raise RuntimeError(f"the web app exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the web app did not answer at {url}")


def _context(settings: Settings) -> Context:
    """The Context the CLI uses: its events go to the worker through Celery."""
    from syndication.context import Context
    from syndication.store.connection import connect
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    return Context(
        settings, CeleryEvents(configure(settings), settings), connect(settings.need_redis_url())
    )


def import_samples(settings: Settings, examples: Path, ctx: Context | None = None) -> int:
    """Import the sample articles through the same service the CLI uses; returns how many."""
    ctx = ctx or _context(settings)
    # Files without a canonical URL (the seed's page dump) get theirs from sources.toml.
    report = ctx.ingest.import_paths([examples / "articles"])
    for error in report.errors:
        print(f"warning: sample not imported: {error}", file=sys.stderr)
    ctx.feeds.rebuild_all()
    return len(report.outcomes)


def _confirmed_reader(ctx: Context, email: str, frequency: str, now: datetime) -> bool:
    """Subscribe and confirm ``email`` on the store (the demo skips the email round trip);
    False when an earlier run unsubscribed it (the suppression list wins)."""
    # RateLimited: restarted several times within the hour; the reader exists already.
    with contextlib.suppress(RateLimited):
        ctx.subscriptions.subscribe(
            email, frequency, (), ctx.settings.publisher.language, source="demo"
        )
    reader = ctx.subscriber_store.get_by_email(email)
    if reader is not None and reader.status != CONFIRMED:
        _, reader = ctx.subscriber_store.confirm(reader.id, now)
    return reader is not None and reader.status == CONFIRMED


def send_demo_digest(ctx: Context, now: datetime) -> str | None:
    """Subscribe and confirm ``DEMO_READER`` (daily, all topics), make today's daily
    edition and queue it the way beat does, so a digest lands in the Maildir moments
    after start. Returns the edition id (an existing one after a restart), or None.

    The edition reaches back to ``DEMO_SINCE`` because the samples are older than a day.
    """
    if not _confirmed_reader(ctx, DEMO_READER, "daily", now):
        return None
    # Queues mail.send_batch through ctx.events (CeleryEvents), as the beat task would.
    created = ctx.digests.create_edition("daily", now, since=DEMO_SINCE)
    return created.edition_id or ctx.digests.edition_id_for("daily", now)


def make_demo_draft(ctx: Context, now: datetime) -> str | None:
    """A weekly edition left as a draft, for an editor to try /admin on: intro, featured
    story, order, preview, then send (to ``DEMO_WEEKLY_READER``, into the Maildir)."""
    if not _confirmed_reader(ctx, DEMO_WEEKLY_READER, "weekly", now):
        return None
    created = ctx.digests.create_edition("weekly", now, start=False, since=DEMO_SINCE)
    return created.edition_id or ctx.digests.edition_id_for("weekly", now)


def run_demo(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    stopped_early: list[int] | None = None,
) -> int:
    """Run until Ctrl-C/SIGTERM; ``stopped_early`` holds signals caught before we began."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not _port_free(host, port):
        print(f"error: port {port} on {host} is in use; try --port {port + 1}", file=sys.stderr)
        return 2

    env = dict(os.environ)
    env.setdefault("SYNDICATION_CONFIG", str((EXAMPLES / "insightcrime.toml").resolve()))
    env.setdefault("SYNDICATION_SECRET_KEY", _persistent_secret(data_dir / "secret_key", 32))
    env.setdefault("SYNDICATION_API_TOKEN", _persistent_secret(data_dir / "api_token", 24))
    if "SYNDICATION_ADMIN_PASSWORD_HASH" not in env:
        env.setdefault(
            "SYNDICATION_ADMIN_PASSWORD", _persistent_secret(data_dir / "admin_password", 12)
        )
    env["SYNDICATION_PUBLIC_URL"] = f"http://{host}:{port}"
    env.setdefault("PYTHONUNBUFFERED", "1")

    redis_server: EmbeddedRedis | None = None
    catcher: MailCatcher | None = None
    children: list[subprocess.Popen[bytes]] = []
    stopping = bool(stopped_early)

    def stop(signum: int, frame: FrameType | None) -> None:
        """Ctrl-C or SIGTERM, at any point of start-up or while running: stop everything.

        Only a flag: raising from a signal handler can leave a lock (logging's, say) held
        by code it interrupted, and the clean-up then hangs on it. Start-up checks the flag
        between its steps (``checkpoint``), the main loop on every turn."""
        nonlocal stopping
        stopping = True

    def checkpoint() -> None:
        if stopping or stopped_early:
            raise DemoStopped

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        checkpoint()
        if not env.get("SYNDICATION_REDIS_URL"):
            print("starting embedded Redis …", flush=True)
            redis_server = EmbeddedRedis(data_dir / "redis")
            redis_server.start()
            env["SYNDICATION_REDIS_URL"] = redis_server.url
        checkpoint()
        catcher = MailCatcher(data_dir / "mail").start()
        env.setdefault("SYNDICATION_SMTP_URL", catcher.url)
        settings = load_settings(env)

        logs = data_dir / "logs"
        logs.mkdir(exist_ok=True)
        cli = [sys.executable, "-m", "syndication.cli"]
        worker_log = (logs / "worker.log").open("ab")
        web_log = (logs / "web.log").open("ab")
        checkpoint()
        print("starting worker and web app …", flush=True)
        # Beat runs as our own child rather than inside the worker (--beat): a forked beat
        # does not die with the demo if the demo is killed, ours does (PDEATHSIG).
        for argv in (
            [*cli, "worker", "--concurrency", "2"],
            [*cli, "beat", "--schedule", str(data_dir / "celerybeat-schedule")],
        ):
            children.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            )
        children.append(
            subprocess.Popen(
                [*cli, "serve", "--host", host, "--port", str(port)],
                env=env,
                stdout=web_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        )
        _wait_http(f"{settings.public_url}/healthz/web", children[-1], checkpoint)

        ctx = _context(settings)
        imported = import_samples(settings, EXAMPLES, ctx)
        checkpoint()
        edition_id = send_demo_digest(ctx, datetime.now(UTC))
        checkpoint()
        draft_id = make_demo_draft(ctx, datetime.now(UTC))
        checkpoint()

        base = settings.public_url
        generated = not any(
            name in os.environ
            for name in ("SYNDICATION_ADMIN_PASSWORD", "SYNDICATION_ADMIN_PASSWORD_HASH")
        )
        # The demo's own password (a local demo, kept in the data folder) is shown as is.
        admin_password = env["SYNDICATION_ADMIN_PASSWORD"] if generated else "the one you set"
        if edition_id:
            digest = (
                f"{base}/archive/{edition_id}\n"
                f"                  (daily digest to {DEMO_READER}: a message in the Maildir)"
            )
        else:
            digest = "none today (no new articles or no demo reader)"
        print(
            f"""
The demo is running ({imported} sample articles imported). Open:

  Home            {base}/
  RSS feed        {base}/feeds/all.rss
  Atom feed       {base}/feeds/all.atom
  API docs        {base}/api/docs
  Health          {base}/healthz
  Newsletters     {base}/archive
  Digest          {digest}
  Admin           {base}/admin   (password: {admin_password})
  Weekly draft    {base}/admin/editions/{draft_id or "…"}  (edit, preview, send)

  Redis           {env["SYNDICATION_REDIS_URL"]}
  Mail (Maildir)  {data_dir / "mail"}   (SMTP {env["SYNDICATION_SMTP_URL"]})
  Logs            {logs}

Publish an article through the API:
  curl -H "Authorization: Bearer $(cat {data_dir / "api_token"})" \\
       -H 'Content-Type: application/json' -d @examples/articles/<file>.json \\
       {base}/api/articles

Press Ctrl-C to stop.""",
            flush=True,
        )
        while not (stopping or stopped_early):
            for child in children:
                if child.poll() is not None:
                    print(
                        f"error: a child process exited (code {child.returncode}); see {logs}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
        return 0
    except (DemoStopped, KeyboardInterrupt):
        return 0
    except (ConfigError, StoreUnavailable, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short (children would still die with
        # us, but Redis would not get to write its AOF cleanly).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping …", flush=True)
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if catcher is not None:
            catcher.stop()
        if redis_server is not None:
            redis_server.stop(cleanup=False)
        print("stopped.", flush=True)

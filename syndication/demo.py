"""``syndication demo``: the whole service on one machine with nothing installed but Python.

Starts (unless ``SYNDICATION_REDIS_URL`` names one) an embedded redis-server with AOF, a
mail catcher, a Celery worker with beat, and the web app; imports the sample articles; prints
where to look; and on Ctrl-C stops every child it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

import httpx

from syndication.config import ENV_PREFIX as ENV
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


def write_cli_env(path: Path, env: dict[str, str]) -> None:
    """The demo's settings as shell exports, so ``syndication …`` in another terminal
    talks to this demo (its Redis port changes per run). Holds the secrets: 0600."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.startswith(ENV)]
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")


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
    """The CLI's own Context (the demo is a CLI command): its events go to the worker
    through Celery, which is imported only when a command needs it."""
    from syndication.cli.common import context

    ctx: Context = context(settings)
    return ctx


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
    return Demo(data_dir, host, port, stopped_early).run()


def _demo_env(data_dir: Path, host: str, port: int) -> dict[str, str]:
    """The children's environment: the caller's, with what the demo needs filled in (the
    secrets kept in ``data_dir`` so links, tokens and the password survive a restart)."""
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
    return env


class Demo:
    """One run of the demo: what it started (so the clean-up stops exactly that) and the
    flag its signal handler sets."""

    def __init__(
        self, data_dir: Path, host: str, port: int, stopped_early: list[int] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.stopped_early = stopped_early
        self.stopping = bool(stopped_early)
        self.env = _demo_env(data_dir, host, port)
        self.logs = data_dir / "logs"
        self.redis_server: EmbeddedRedis | None = None
        self.catcher: MailCatcher | None = None
        self.children: list[subprocess.Popen[bytes]] = []

    def stop(self, signum: int, frame: FrameType | None) -> None:
        """Ctrl-C or SIGTERM, at any point of start-up or while running: stop everything.

        Only a flag: raising from a signal handler can leave a lock (logging's, say) held
        by code it interrupted, and the clean-up then hangs on it. Start-up checks the flag
        between its steps (``checkpoint``), the main loop on every turn."""
        self.stopping = True

    def checkpoint(self) -> None:
        if self.stopping or self.stopped_early:
            raise DemoStopped

    def run(self) -> int:
        """Start everything, seed the samples, print where to look, and wait for a signal
        (0) or a child's death (1); whatever happens, stop every child on the way out."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        try:
            self.checkpoint()
            settings = self._start_services()
            self.checkpoint()
            self._start_processes(settings)
            ctx = _context(settings)
            imported = import_samples(settings, EXAMPLES, ctx)
            self.checkpoint()
            edition_id = send_demo_digest(ctx, datetime.now(UTC))
            self.checkpoint()
            draft_id = make_demo_draft(ctx, datetime.now(UTC))
            self.checkpoint()
            print(self._welcome(settings.public_url, imported, edition_id, draft_id), flush=True)
            return self._watch()
        except (DemoStopped, KeyboardInterrupt):
            return 0
        except (ConfigError, StoreUnavailable, RuntimeError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            self._shut_down()

    def _start_services(self) -> Settings:
        """Redis (embedded, unless the environment names one) and the mail catcher."""
        if not self.env.get("SYNDICATION_REDIS_URL"):
            print("starting embedded Redis …", flush=True)
            self.redis_server = EmbeddedRedis(self.data_dir / "redis")
            self.redis_server.start()
            self.env["SYNDICATION_REDIS_URL"] = self.redis_server.url
        self.checkpoint()
        self.catcher = MailCatcher(self.data_dir / "mail").start()
        self.env.setdefault("SYNDICATION_SMTP_URL", self.catcher.url)
        settings = load_settings(self.env)
        write_cli_env(self.data_dir / "env", self.env)
        return settings

    def _start_processes(self, settings: Settings) -> None:
        """The worker, beat and the web app, each in its own session; returns once the web
        app answers."""
        self.logs.mkdir(exist_ok=True)
        cli = [sys.executable, "-m", "syndication.cli"]
        worker_log = (self.logs / "worker.log").open("ab")
        web_log = (self.logs / "web.log").open("ab")
        self.checkpoint()
        print("starting worker and web app …", flush=True)
        # Beat runs as our own child rather than inside the worker (--beat): a forked beat
        # does not die with the demo if the demo is killed, ours does (PDEATHSIG).
        self._spawn([*cli, "worker", "--concurrency", "2"], worker_log)
        self._spawn(
            [*cli, "beat", "--schedule", str(self.data_dir / "celerybeat-schedule")], worker_log
        )
        web = self._spawn([*cli, "serve", "--host", self.host, "--port", str(self.port)], web_log)
        _wait_http(f"{settings.public_url}/healthz/web", web, self.checkpoint)

    def _spawn(self, argv: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        """A child that dies with the demo (PDEATHSIG) and that the clean-up stops with its
        whole process group."""
        child = subprocess.Popen(
            argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.children.append(child)
        return child

    def _welcome(
        self, base: str, imported: int, edition_id: str | None, draft_id: str | None
    ) -> str:
        """Where to look, what to try, and how to stop."""
        env, data_dir = self.env, self.data_dir
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
        return f"""
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
  Logs            {self.logs}

Publish an article through the API:
  curl -H "Authorization: Bearer $(cat {data_dir / "api_token"})" \\
       -H 'Content-Type: application/json' -d @examples/articles/<file>.json \\
       {base}/api/articles

The CLI in another terminal (its settings are in {data_dir / "env"}):
  set -a; . {data_dir / "env"}; set +a
  syndication digest preview
  syndication digest send --frequency daily --to ADDRESS   # a test send to one reader

Press Ctrl-C to stop."""

    def _watch(self) -> int:
        """Until a signal (0) or until a child dies (1)."""
        while not (self.stopping or self.stopped_early):
            for child in self.children:
                if child.poll() is not None:
                    print(
                        f"error: a child process exited (code {child.returncode}); see {self.logs}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
        return 0

    def _shut_down(self) -> None:
        """Stop the children (SIGTERM to each group, SIGKILL after 15 s), then the mail
        catcher, then Redis, so it writes its AOF cleanly."""
        # A second Ctrl-C must not cut the clean-up short (children would still die with
        # us, but Redis would not get to write its AOF cleanly).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping …", flush=True)
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if self.catcher is not None:
            self.catcher.stop()
        if self.redis_server is not None:
            self.redis_server.stop(cleanup=False)
        print("stopped.", flush=True)

"""``syndication demo``: the whole service on one machine with nothing installed but Python.

Starts (unless ``SYNDICATION_REDIS_URL`` names one) an embedded redis-server with AOF, a
mail catcher, a Celery worker with beat, and the web app; imports the sample articles; prints
where to look; and on Ctrl-C stops every child it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from syndication.config import ConfigError, Settings, load_settings
from syndication.deliver.mail_catcher import MailCatcher
from syndication.embedded_redis import EmbeddedRedis
from syndication.processes import die_with_parent
from syndication.store.connection import StoreUnavailable

EXAMPLES = Path("examples")


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


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web app exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the web app did not answer at {url}")


def import_samples(settings: Settings, examples: Path) -> int:
    """Import the sample articles through the same service the CLI uses; returns how many."""
    from syndication.context import Context
    from syndication.store.connection import connect
    from workers.celery_app import configure
    from workers.events import CeleryEvents

    ctx = Context(
        settings, CeleryEvents(configure(settings), settings), connect(settings.need_redis_url())
    )
    # Files without a canonical URL (the seed's page dump) get theirs from sources.toml.
    report = ctx.ingest.import_paths([examples / "articles"])
    for error in report.errors:
        print(f"warning: sample not imported: {error}", file=sys.stderr)
    ctx.feeds.rebuild_all()
    return len(report.outcomes)


def run_demo(data_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> int:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not _port_free(host, port):
        print(f"error: port {port} on {host} is in use; try --port {port + 1}", file=sys.stderr)
        return 2

    env = dict(os.environ)
    env.setdefault("SYNDICATION_CONFIG", str((EXAMPLES / "insightcrime.toml").resolve()))
    env.setdefault("SYNDICATION_SECRET_KEY", _persistent_secret(data_dir / "secret_key", 32))
    env.setdefault("SYNDICATION_API_TOKEN", _persistent_secret(data_dir / "api_token", 24))
    env["SYNDICATION_PUBLIC_URL"] = f"http://{host}:{port}"
    env.setdefault("PYTHONUNBUFFERED", "1")

    redis_server: EmbeddedRedis | None = None
    catcher: MailCatcher | None = None
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        if not env.get("SYNDICATION_REDIS_URL"):
            print("starting embedded Redis …", flush=True)
            redis_server = EmbeddedRedis(data_dir / "redis").start()
            env["SYNDICATION_REDIS_URL"] = redis_server.url
        catcher = MailCatcher(data_dir / "mail").start()
        env.setdefault("SYNDICATION_SMTP_URL", catcher.url)
        settings = load_settings(env)

        logs = data_dir / "logs"
        logs.mkdir(exist_ok=True)
        cli = [sys.executable, "-m", "syndication.cli"]
        worker_log = (logs / "worker.log").open("ab")
        web_log = (logs / "web.log").open("ab")
        print("starting worker and web app …", flush=True)
        children.append(
            subprocess.Popen(
                [
                    *cli,
                    "worker",
                    "--beat",
                    "--concurrency",
                    "2",
                    "--schedule",
                    str(data_dir / "celerybeat-schedule"),
                ],
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
        _wait_http(f"{settings.public_url}/healthz", children[1])

        imported = import_samples(settings, EXAMPLES)

        base = settings.public_url
        print(
            f"""
The demo is running ({imported} sample articles imported). Open:

  Home            {base}/
  RSS feed        {base}/feeds/all.rss
  Atom feed       {base}/feeds/all.atom
  API docs        {base}/api/docs
  Health          {base}/healthz

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
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(
                        f"error: a child process exited (code {child.returncode}); see {logs}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except (ConfigError, StoreUnavailable, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
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

"""``syndication demo`` as a newcomer runs it: everything starts, samples show up, Ctrl-C stops."""

from __future__ import annotations

import mailbox
import os
import signal
import socket
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import IO

import feedparser
import httpx
import pytest

from syndication.embedded_redis import free_port
from tests.support import ROOT, wait_for


def _feed_titles(base: str) -> list[str]:
    try:
        resp = httpx.get(f"{base}/feeds/all.rss", timeout=2)
    except httpx.HTTPError:
        return []
    if resp.status_code != 200:
        return []
    return [e.title for e in feedparser.parse(resp.content).entries]


def _digest(folder: Path) -> EmailMessage | None:
    """The daily digest to the demo reader, once the worker has sent it."""
    if not folder.is_dir():
        return None
    for raw in mailbox.Maildir(folder, create=False):
        msg = message_from_bytes(raw.as_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        # The digest leads its subject with a headline: its List-Id says which list it is.
        if msg["To"] == "demo@example.org" and "<daily.newsletter." in str(msg["List-Id"] or ""):
            return msg
    return None


def _start_demo(data_dir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``syndication demo`` as a newcomer runs it: from the checkout, no SYNDICATION_ env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATION_")}
    argv = [sys.executable, "-m", "syndication.cli", "demo", "--data-dir", str(data_dir),
            "--port", str(port)]  # fmt: skip
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_demo_runs_imports_samples_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    log = (tmp_path / "demo.out").open("wb")
    proc = _start_demo(tmp_path / "d", port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        titles = wait_for(
            lambda: [t for t in _feed_titles(base) if "Shining Path" in t], timeout=90
        )
        assert titles == ["Peru in Familiar Stalemate With Shining Path Rebels"]
        wait_for(lambda: "Ctrl-C" in (tmp_path / "demo.out").read_text(), timeout=60)
        out = (tmp_path / "demo.out").read_text()
        assert f"{base}/feeds/all.rss" in out and "Ctrl-C" in out
        home = httpx.get(base + "/", timeout=5)
        assert home.status_code == 200 and "Peru in Familiar Stalemate" in home.text
        assert (tmp_path / "d" / "mail").is_dir()
        # the demo reader's daily digest, sent by the worker through the mail catcher
        assert f"{base}/archive\n" in out and f"{base}/archive/daily-" in out
        digest = wait_for(lambda: _digest(tmp_path / "d" / "mail"), timeout=60)
        assert isinstance(digest, EmailMessage)
        html = digest.get_body(("html",))
        assert html is not None
        assert "Peru in Familiar Stalemate With Shining Path Rebels" in html.get_content()
        assert httpx.get(f"{base}/archive", timeout=5).status_code == 200
        archive_url = out.split("Digest          ")[1].split()[0]
        page = httpx.get(archive_url, timeout=5)
        assert page.status_code == 200 and "Shining Path" in page.text
        redis_port = int(out.split("redis://127.0.0.1:")[1].split("/")[0])
        assert _listening(redis_port)
        # the admin: its password printed, and a weekly draft waiting for an editor
        password = out.split("(password: ")[1].split(")")[0]
        assert password == (tmp_path / "d" / "admin_password").read_text().strip()
        draft_url = out.split("Weekly draft    ")[1].split()[0]
        with httpx.Client(base_url=base, timeout=5) as admin:
            form = admin.get("/admin/login").text
            token = form.split('name="csrf_token" value="')[1].split('"')[0]
            signed_in = admin.post(
                "/admin/login",
                data={"csrf_token": token, "password": password, "next": "/admin"},
            )
            assert signed_in.status_code == 303
            draft = admin.get(draft_url)
            assert draft.status_code == 200 and "draft" in draft.text and "Edit" in draft.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        finally:
            proc.kill()  # no-op once it exited; its children die with it (PDEATHSIG)
            log.close()
    assert code == 0, (tmp_path / "demo.out").read_text()
    assert "stopped." in (tmp_path / "demo.out").read_text()
    assert not _listening(port)
    assert not _listening(redis_port)


@pytest.mark.slow
def test_ctrl_c_during_start_up_stops_everything(tmp_path: Path):
    port = free_port()
    out_path = tmp_path / "demo.out"
    with out_path.open("wb") as log:
        proc = _start_demo(tmp_path / "d", port, log)
        try:
            wait_for(lambda: "starting worker" in out_path.read_text(), timeout=60)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            proc.kill()  # no-op once it exited; a hang must not outlive the test
    text = out_path.read_text()
    assert code == 0, text
    assert "stopped." in text
    redis_log = (tmp_path / "d" / "redis" / "redis.log").read_text()
    assert "ready to exit" in redis_log.lower() or "bye" in redis_log.lower()
    assert not _listening(port)

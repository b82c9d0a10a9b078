"""``syndication webhooks``, run as an operator runs it: a real process on real Redis."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndication.cli", "webhooks", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_add_prints_the_secret_once_then_list_test_and_remove(env: dict[str, str]) -> None:
    added = run(env, "add", "https://hooks.example.org/in", "--events", "edition.sent", "--json")
    assert added.returncode == 0, added.stderr
    data = json.loads(added.stdout)
    endpoint_id, secret = data["endpoint"]["id"], data["secret"]
    assert secret.startswith("whsec_") and data["endpoint"]["events"] == ["edition.sent"]

    listed = run(env, "list")
    assert listed.returncode == 0 and endpoint_id in listed.stdout
    assert "[edition.sent]" in listed.stdout and "no attempts yet" in listed.stdout
    assert secret not in listed.stdout and secret not in run(env, "list", "--json").stdout

    tested = run(env, "test", endpoint_id)
    assert tested.returncode == 0 and "queued test event evt_" in tested.stdout
    assert run(env, "remove", endpoint_id).returncode == 0
    missing = run(env, "remove", endpoint_id)
    assert missing.returncode == 1 and "no endpoint" in missing.stderr


def test_add_refuses_private_addresses_and_unknown_events(env: dict[str, str]) -> None:
    private = run(env, "add", "http://192.168.1.10/hook")
    assert private.returncode == 1 and "public addresses only" in private.stderr
    unknown = run(env, "add", "https://hooks.example.org/in", "--events", "article.liked")
    assert unknown.returncode == 1 and "unknown event" in unknown.stderr
    assert run(env, "list").stdout.strip() == "no endpoints"

"""``syndication import`` of an embargoed article, ``articles hold|release`` and
``partners add --embargoed``, as an operator runs them (issue #16).

The commands read the machine's clock, so the embargo here ends in 2099: ahead of any
date the suite runs on (``make test-shifted`` included).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from syndication.context import Context
from syndication.store.articles import State
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


def _state(context: Context, article_id: str) -> State:
    stored = context.article_store.get(article_id)
    assert stored is not None
    return stored.state


def test_import_an_embargo_hold_it_and_release_the_hold(
    env: dict[str, str], context: Context, tmp_path: Path
) -> None:
    data = article_data(
        1, published_at="2020-01-01T12:00:00Z", embargoed_until="2099-01-01T00:00:00Z"
    )
    path = tmp_path / "embargoed.json"
    path.write_text(json.dumps(data))
    imported = run(env, "import", str(path), "--json")
    assert imported.returncode == 0, imported.stderr
    (article_id,) = json.loads(imported.stdout)["outcomes"]
    assert _state(context, article_id) is State.EMBARGOED
    assert context.article_store.latest_ids(10) == []

    held = run(env, "articles", "hold", article_id, "--reason", "legal review")
    assert held.returncode == 0, held.stderr
    assert held.stdout.strip() == f"{article_id}: on hold"
    stored = context.article_store.get(article_id)
    assert stored is not None and stored.hold is not None
    assert stored.state is State.HELD and stored.hold.reason == "legal review"
    again = run(env, "articles", "hold", article_id, "--reason", "twice")
    assert again.returncode == 1 and "already held" in again.stderr

    released = run(env, "articles", "release", article_id, "--json")
    assert released.returncode == 0, released.stderr
    assert json.loads(released.stdout) == {"id": article_id, "outcome": "released"}
    assert _state(context, article_id) is State.EMBARGOED  # its embargo is still ahead
    assert run(env, "articles", "release", article_id).returncode == 1
    assert run(env, "articles", "hold", "no-such-article", "--reason", "x").returncode == 1


def test_a_partner_trusted_with_embargoed_work(env: dict[str, str]) -> None:
    added = run(env, "partners", "add", "Wire desk", "--embargoed", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["partner"]["embargoed"] is True
    plain = run(env, "partners", "add", "Outlet", "--json")
    assert json.loads(plain.stdout)["partner"]["embargoed"] is False
    assert "sees embargoed" in run(env, "partners", "list").stdout

"""``syndication migrate-keys``: keys from before hash tags move to their tagged names, once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syndication.cli import main
from syndication.models import Article
from syndication.store.articles import ArticleStore
from syndication.store.key_migration import KeyMigration
from syndication.store.keys import Keys
from tests.support import article_data

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def old_layout(client: Any, prefix: str) -> Article:
    """A store as the code before issue #14 left it: an article with its indexes, a built
    feed, counters, a replay-protection token with its TTL, and Celery's queue."""
    legacy = Keys(prefix)
    article = Article.model_validate(article_data(1))
    store = ArticleStore(client, prefix + "tmp:")  # written, then moved to the old names
    store.put(article, NOW)
    tmp = Keys(prefix + "tmp:")
    for key in client.scan_iter(match=f"{prefix}tmp:*"):
        old = (
            key.decode().replace(tmp.articles, prefix).replace("identity:", "articles:{identity}:")
        )
        old = old.replace(f"{prefix}by_date", f"{prefix}articles:by_date")
        old = old.replace(f"{prefix}all", f"{prefix}articles:all")
        client.rename(key, old)
    client.hset(f"{prefix}feed:all:rss", "etag", '"1"')
    client.hset(f"{prefix}metrics:articles_ingested_total", "created", 1)
    client.set(f"{prefix}signed:api:abc", "1", ex=600)
    client.zadd(f"{prefix}editions", {"daily-2026-12-01": 1})
    client.lpush(f"{prefix}celery:feeds", "task")
    assert client.exists(legacy.article(article.id)) == 0
    return article


def test_old_keys_move_once_and_the_store_reads_them(redis_client: Any, prefix: str):
    article = old_layout(redis_client, prefix)
    lines: list[str] = []
    done = KeyMigration(redis_client, prefix).run(lines.append)
    assert done.renamed["article:*"] == 1 and done.renamed["articles:{identity}:*"] >= 2
    assert done.renamed["topic:*"] == 1 and done.renamed["signed:*"] == 1
    assert not any(done.conflicts.values())
    assert any(line.startswith("article:*: 1 renamed") for line in lines)
    store = ArticleStore(redis_client, prefix)
    assert store.get(article.id) is not None and store.latest_ids(5) == [article.id]
    assert store.put(article, NOW).outcome.value == "unchanged"  # identity indexes moved too
    assert 0 < redis_client.ttl(f"{prefix}{{once}}:signed:api:abc") <= 600
    assert redis_client.zcard(f"{prefix}{{editions}}:all") == 1
    assert redis_client.llen(f"{prefix}celery:feeds") == 1  # Celery's keys are not ours
    again = KeyMigration(redis_client, prefix)
    assert again.done() and again.ensure() is None and again.run().total == 0


def test_a_taken_new_name_is_never_overwritten(redis_client: Any, prefix: str):
    redis_client.hset(f"{prefix}feed:all:rss", "etag", '"old"')
    redis_client.hset(f"{prefix}{{feeds}}:feed:all:rss", "etag", '"new"')
    done = KeyMigration(redis_client, prefix).run()
    assert done.conflicts["feed:*"] == 1
    assert redis_client.hget(f"{prefix}{{feeds}}:feed:all:rss", "etag") == b'"new"'


@pytest.mark.parametrize("json_flag", [False, True])
def test_the_command_reports_what_it_did(
    redis_client: Any, prefix: str, env: dict[str, str], monkeypatch, capsys, json_flag: bool
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    redis_client.set(f"{prefix}poll:abc", "x")
    assert main(["migrate-keys", *(["--json"] if json_flag else [])]) == 0
    out = capsys.readouterr()
    assert ('"poll:*": 1' in out.out) if json_flag else ("1 keys renamed" in out.out)
    assert redis_client.exists(f"{prefix}{{poll}}:abc")

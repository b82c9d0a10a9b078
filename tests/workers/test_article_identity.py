"""The one-off upgrade of article identities runs when a worker starts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from syndication.config import Settings
from syndication.models import Article
from syndication.store.keys import Keys
from tests.support import article_data, wait_for
from tests.support.legacy import legacy_write


@pytest.mark.slow
def test_a_starting_worker_indexes_the_urls_of_old_records(
    request: pytest.FixtureRequest, settings: Settings, redis_client: redis.Redis
) -> None:
    prefix = settings.key_prefix
    old = Article.model_validate(article_data(1, url="https://insightcrime.org/?p=9", id="wp-9"))
    legacy_write(redis_client, prefix, old, datetime(2026, 11, 1, tzinfo=UTC))
    request.getfixturevalue("worker")  # started only now, on the old data
    keys = Keys(prefix)
    wait_for(lambda: redis_client.exists(keys.identities_migrated))
    assert redis_client.hget(keys.article_urls, "https://insightcrime.org/?p=9") == b"wp-9"

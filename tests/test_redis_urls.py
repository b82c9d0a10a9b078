"""Redis URLs: one server, a Cluster, a Sentinel; and which of them Celery can use."""

from __future__ import annotations

import pytest

from syndication.config import ConfigError, load_settings
from syndication.redis_urls import kombu_broker, parse, redacted


def test_cluster_and_sentinel_urls_parse() -> None:
    c = parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001")
    assert c.cluster and c.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001)) and c.password == "pw"
    s = parse("redis+sentinel://s1:26379,s2/mymaster/2")
    assert s.sentinel and s.nodes == (("s1", 26379), ("s2", 26379))
    assert (s.service, s.db) == ("mymaster", 2)
    assert redacted("redis+cluster://:pw@a:1,b:2") == "redis+cluster://a:1,b:2"
    for bad in ("redis+sentinel://s1:26379", "redis+cluster://", "http://x", "redis+cluster://a:x"):
        with pytest.raises(ValueError):
            parse(bad)


def test_kombu_gets_sentinel_urls_and_never_a_cluster() -> None:
    url, options = kombu_broker("redis+sentinel://:pw@s1:26379,s2:26380/mymaster")
    assert url == "sentinel://:pw@s1:26379/0;sentinel://:pw@s2:26380/0"
    assert options == {"master_name": "mymaster"}
    assert kombu_broker("redis://r:6379/1") == ("redis://r:6379/1", {})
    with pytest.raises(ValueError, match="Cluster"):
        kombu_broker("redis+cluster://a:1")


def test_a_cluster_needs_a_broker_of_its_own(env: dict[str, str]) -> None:
    cluster = {**env, "SYNDICATION_REDIS_URL": "redis+cluster://127.0.0.1:7000"}
    with pytest.raises(ConfigError, match="SYNDICATION_BROKER_URL"):
        load_settings(cluster)
    with pytest.raises(ConfigError, match="SYNDICATION_BROKER_URL: Celery"):
        load_settings({**cluster, "SYNDICATION_BROKER_URL": "redis+cluster://127.0.0.1:7000"})
    settings = load_settings({**cluster, "SYNDICATION_BROKER_URL": "redis://127.0.0.1:6379/0"})
    assert settings.need_broker_url() == "redis://127.0.0.1:6379/0"
    assert load_settings(env).need_broker_url() == env["SYNDICATION_REDIS_URL"]

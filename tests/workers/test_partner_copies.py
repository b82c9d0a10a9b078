"""Partner copies stored in Redis at publish time, read back by cold processes.

The task ``partners.prepare_copies`` runs in a real Celery worker against the test Redis;
"cold" services are fresh ``Partners`` from ``make_partners`` (an empty in-process memo),
as a new web process has. ``copy_counts`` says where each copy came from, so "read, not
rendered again" is checked without replacing any of our code.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from syndication.config import Publisher, Settings, load_publisher
from syndication.context import Context
from syndication.models import Article
from syndication.render.attribution import inspect_attribution
from syndication.render.partner_copy import (
    Excluded,
    PartnerItem,
    PartnerTerms,
    _find_chrome,
    _may_have_chrome,
    partner_copy,
)
from syndication.services.partners import Partners, assemble_partners, make_partners
from syndication.store.partners import PartnerCopyStore, StoredCopy, copy_version
from tests.support import EXAMPLE_CONFIG, article_data, wait_for
from tests.support.clock import ManualClock
from tests.support.workers import WorkerProcess
from workers.celery_app import configure


def accept(ctx: Context, n: int, **overrides: object) -> Article:
    article = Article.model_validate(article_data(n, **overrides))
    ctx.articles.accept(article)
    return article


def cold(ctx: Context) -> Partners:
    """A service as a fresh process has it: nothing memoised."""
    return make_partners(ctx.settings, ctx.client, ctx.article_store)


def stored_fields(ctx: Context, article_id: str) -> dict[str, bytes]:
    return cold(ctx).copies.copy_store.fields(article_id)


# --- with a real worker -----------------------------------------------------------------


@pytest.mark.slow
def test_copies_stored_by_the_task_are_read_cold_replaced_on_update_dropped_on_withdrawal(
    context: Context, worker: WorkerProcess, settings: Settings, clock: ManualClock
) -> None:
    # The test's clock is enough here: ``partners.prepare_copies`` reads no clock, it keys
    # the copies by the version (the article's last change, recorded on this clock).
    app = configure(settings)
    ctx = context
    first = accept(ctx, 1, licence="CC-BY-NC-4.0")
    second = accept(ctx, 2, licence="CC-BY-4.0")
    # What CeleryEvents.published/updated/withdrawn queue (see the lead's snippet).
    for article in (first, second):
        app.send_task("partners.prepare_copies", args=[article.id])
    wait_for(lambda: len(stored_fields(ctx, first.id)) == 2 == len(stored_fields(ctx, second.id)))

    # A cold service reads both copies from Redis and renders nothing.
    service = cold(ctx)
    partner, _ = service.keys.add("Outlet", now=clock())
    doc = service.feeds.feed(partner, "all", "atom", clock())
    assert doc is not None
    assert service.copies.copy_counts == {"stored": 2}
    # What it read is what partner_copy makes, byte for byte, text included.
    for article in (first, second):
        stored = ctx.article_store.get(article.id)
        assert stored is not None  # as stored: with the feed date the store fixed
        got = service.copies.copy(stored, False)
        made = partner_copy(stored.article, PartnerTerms.of(), settings.publisher)
        assert isinstance(got, PartnerItem) and isinstance(made, PartnerItem)
        assert got.html == made.html and got.text == made.text
        assert got.article == made.article and got.changes == made.changes
    # The NC article's commercial "copy" is stored as an exclusion.
    commercial = cold(ctx).copies.copy(ctx.article_store.get(first.id), True)  # type: ignore[arg-type]
    assert isinstance(commercial, Excluded) and commercial.code == "non-commercial"

    # An update replaces the stored copy (the old version's fields are gone).
    old_hash = ctx.article_store.get(first.id).content_hash  # type: ignore[union-attr]
    clock.advance(minutes=5)
    changed = first.model_copy(
        update={
            "body_html": "<p>Corrected body.</p>",
            "updated_at": first.published_at + timedelta(hours=1),
        }
    )
    ctx.articles.accept(changed)
    new_hash = ctx.article_store.get(first.id).content_hash  # type: ignore[union-attr]
    assert new_hash != old_hash
    app.send_task("partners.prepare_copies", args=[first.id])
    wait_for(lambda: all(f.startswith(new_hash) for f in stored_fields(ctx, first.id)))
    assert len(stored_fields(ctx, first.id)) == 2
    fresh = cold(ctx)
    item = fresh.copies.copy(ctx.article_store.get(first.id), False)  # type: ignore[arg-type]
    assert isinstance(item, PartnerItem) and "Corrected body." in item.html
    assert fresh.copies.copy_counts == {"stored": 1}

    # Withdrawal removes it; a reader that still holds the published version cannot
    # write a copy back.
    published = ctx.article_store.get(first.id)
    assert published is not None
    clock.advance(minutes=5)
    ctx.articles.withdraw(first.id)
    app.send_task("partners.prepare_copies", args=[first.id])
    wait_for(lambda: not stored_fields(ctx, first.id))
    late = cold(ctx)
    late.copies.copies([published], False)
    assert late.copies.copy_counts == {"made": 1}
    assert stored_fields(ctx, first.id) == {}


# --- the service and the store, without a worker -----------------------------------------


def test_a_copy_made_by_a_reader_is_stored_for_the_next_cold_process(context: Context) -> None:
    article = accept(context, 3)
    stored = context.article_store.get(article.id)
    assert stored is not None
    first = cold(context)
    first.copies.copy(stored, False)
    first.copies.copy(stored, False)
    assert first.copies.copy_counts == {"made": 1, "memo": 1}
    second = cold(context)
    item = second.copies.copy(stored, False)
    assert second.copies.copy_counts == {"stored": 1}
    assert isinstance(item, PartnerItem) and inspect_attribution(item.html).top_url == article.url


def test_prepare_copies_replaces_and_an_older_writer_changes_nothing(context: Context) -> None:
    service = cold(context)
    article = accept(context, 4)
    assert service.copies.prepare_copies(article.id) == 2
    before = stored_fields(context, article.id)
    stored = context.article_store.get(article.id)
    assert stored is not None
    # A slow reader that made a copy of an older version loses to what is stored.
    older = copy_version(stored.changed_at - timedelta(seconds=1))
    service.copies.copy_store.add_many(
        [(article.id, "0" * 64, older, False, StoredCopy(body_html="stale"))],
        service.copies.copy_terms,
    )
    assert stored_fields(context, article.id) == before
    assert service.copies.prepare_copies("no-such-article") == 0


def test_copies_made_under_other_terms_are_not_served(context: Context) -> None:
    """A changed syndication.toml (or template) means new copies, not stale stored ones."""
    article = accept(context, 5)
    stored = context.article_store.get(article.id)
    assert stored is not None
    service = cold(context)
    service.copies.prepare_copies(article.id)
    publisher = context.settings.publisher
    terms = publisher.attribution.model_copy(update={"contact": "Write to news@example.org."})
    other = assemble_partners(
        service.store,
        context.article_store,
        service.copies.copy_store,
        publisher.model_copy(update={"attribution": terms}),
        context.settings.public_url,
        context.settings.secret_key,
    )
    assert other.copies.copy_terms != service.copies.copy_terms
    item = other.copies.copy(stored, False)
    assert other.copies.copy_counts == {"made": 1}
    assert isinstance(item, PartnerItem) and "news@example.org" in item.footer_html


def test_an_unreadable_stored_copy_is_made_again(
    context: Context, redis_client: redis.Redis
) -> None:
    article = accept(context, 6)
    stored = context.article_store.get(article.id)
    assert stored is not None
    service = cold(context)
    service.copies.prepare_copies(article.id)
    store = PartnerCopyStore(redis_client, context.settings.key_prefix)
    field = store.field(stored.content_hash, False, service.copies.copy_terms)
    redis_client.hset(store.key(article.id), field, b"{not json")
    fresh = cold(context)
    assert isinstance(fresh.copies.copy(stored, False), PartnerItem)
    assert fresh.copies.copy_counts == {"made": 1}


# --- the chrome gate ---------------------------------------------------------------------

CHROME = [
    "<p>Donate</p>",
    "<p><b>Do</b>nate</p>",
    "<p>&#68;onate</p>",
    "<p>&nbsp;Donate today!</p>",
    "<p><!-- x -->Donate</p>",
    '<p><a title="a>b">Donate</a></p>',
    "<p>Sign <em>up</em> now</p>",
    "<p>SIGN\n   UP</p>",
    "<div><p>Share this on Facebook</p></div>",
    "<p>¿Te resultó útil este contenido?</p>",
    "<p>Suscríbete</p>",
    "<p>Read more:</p>",
    "<ul><li>Related articles</li></ul>",
    "<p>Get our newsletter in your inbox every week.</p>",
    "<nav><a href='/x'>Home</a></nav>",
    '<p class="share">x</p>',
]
PROSE = [
    "<p>Police said the shipment left the port on Monday.</p>",
    '<p>See <a href="https://example.org/related-report/">the report</a>.</p>',
    "<p>The donation of land was contested.</p><h2>Background</h2><p>Readers know.</p>",
]


@pytest.mark.parametrize("body", CHROME)
def test_gate_lets_every_chrome_body_through_and_it_is_stripped(body: str) -> None:
    assert _may_have_chrome(body.lower(), "")
    article = Article.model_validate(article_data(1, body_html=body + "<p>Story text.</p>"))
    item = partner_copy(article, PartnerTerms.of(), _publisher())
    assert isinstance(item, PartnerItem)
    assert item.changes and item.body_html == "<p>Story text.</p>"


@pytest.mark.parametrize("body", PROSE)
def test_gate_skips_prose_and_the_parse_would_have_found_nothing(body: str) -> None:
    import lxml.html

    assert not _may_have_chrome(body.lower(), "")
    root = lxml.html.fragment_fromstring(body, create_parent="div")
    assert _find_chrome(root, "", deep=True) == []


def _publisher() -> Publisher:
    return load_publisher(EXAMPLE_CONFIG)

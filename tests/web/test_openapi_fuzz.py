"""schemathesis over the app's own ``/api/openapi.json``, in process on a real Redis.

Every built-in check (the CLI's ``--checks all``), with and without the API token: no
operation answers 5xx, or a status, content type, header or body its declaration lacks.
Examples are bounded and derandomized, so a run is reproducible and quick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from syndication.context import Context
from syndication.services.partners import make_partners
from syndication.web.app import create_app
from tests.support.partners import add_articles

TOKEN = "test-token-0123456789"  # tests/conftest.py's SYNDICATION_API_TOKEN

load_all_checks()
#: ``--checks all`` (those about sequences of calls, such as ``use_after_free``, only act on
#: stateful runs and pass here).
ALL_CHECKS = CHECKS.get_all()

FORMATS = ("rss", "atom", "json")

#: Checks that cannot hold for a reason that is not a bug, by operation.
EXCLUDED: dict[str, list[str]] = {
    # No worker runs in this test, so the health probe answers its documented 503 "down".
    "GET /healthz": ["not_a_server_error"],
    # Valid per the schema is not enough: a link token or CSRF field is valid only when
    # the server minted it, and an article or subscription must also pass rules JSON
    # Schema cannot say (dates near the clock, RFC 3986 URLs, deliverable addresses).
    **{
        f"{method} {path}": ["positive_data_acceptance"]
        for path in ("/confirm/{token}", "/preferences/{token}", "/unsubscribe/{token}")
        for method in ("GET", "POST")
    },
    "POST /subscribe": ["positive_data_acceptance"],
    "POST /manage": ["positive_data_acceptance"],
    "POST /api/subscribers": ["positive_data_acceptance"],
    "POST /api/articles": ["positive_data_acceptance"],
    # A schema-valid report must also name a stored article (else 404).
    "POST /partners/republications": ["positive_data_acceptance"],
    # A click link is valid only when we signed it (else 404 and no redirect).
    "GET /c/{token}": ["positive_data_acceptance"],
}


#: Feeds that exist, so each format's 200 is checked too: random paths all miss.
REAL: dict[str, list[dict[str, str]]] = {
    "/feeds/{path}": [
        {"path": f"{name}.{fmt}"} for name in ("all", "topic/coca") for fmt in FORMATS
    ],
    "/partners/feeds/{path}": [{"path": f"all.{fmt}"} for fmt in (*FORMATS, "ninjs")],
    "/partners/{key}/feeds/{path}": [{"key": "", "path": f"all.{fmt}"} for fmt in FORMATS],
}

BOUNDED = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Fuzzed:
    schema: Any
    partner_key: str  # a live partner's key: the partner feeds answer 200 to valid input


@pytest.fixture
def fuzzed(context: Context) -> Fuzzed:
    """The app on the test's Context, with articles, built feeds and a partner, so that
    feeds and partner feeds answer."""
    add_articles(context)
    context.feeds.rebuild_dirty()
    service = make_partners(context.settings, context.client, context.article_store)
    _, key = service.keys.add("Outlet", now=context.clock())
    return Fuzzed(schemathesis.openapi.from_asgi("/api/openapi.json", create_app(context)), key)


def examples(
    strategy: Any, credentials: Callable[[Any], dict[str, str]], excluded: list[Any]
) -> None:
    """Run the bounded examples of one strategy through every check but ``excluded``."""

    @BOUNDED
    @given(case=strategy)
    def one(case: Any) -> None:
        headers = credentials(case)
        case.call_and_validate(headers=headers, checks=ALL_CHECKS, excluded_checks=excluded)

    one()


def fuzz(app: Fuzzed, signed_in: bool) -> list[str]:
    """Each operation, valid and invalid input: what failed, one line per operation and mode.
    Signed in, the API gets the token, partner feeds the partner's key (as bearer, or in
    the path for valid input). A loop over ``as_strategy`` rather than
    ``schemathesis.pytest.from_fixture``, whose lazy loader reads a pytest internal that
    pytest 9 no longer has."""
    failures: list[str] = []
    for result in app.schema.get_all_operations():
        operation = result.ok()
        names = EXCLUDED.get(f"{operation.method.upper()} {operation.path}", [])
        excluded = CHECKS.get_by_names(names)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def credentials(case: Any, mode: GenerationMode = mode) -> dict[str, str]:
                if not signed_in:
                    return {}
                if case.operation.path.startswith("/partners/{key}/"):
                    if mode is GenerationMode.POSITIVE:
                        case.path_parameters["key"] = app.partner_key
                    return {}
                if case.operation.path.startswith("/partners/"):
                    return {"Authorization": f"Bearer {app.partner_key}"}
                return {"Authorization": f"Bearer {TOKEN}"}

            try:
                if mode is GenerationMode.POSITIVE:
                    for path_parameters in REAL.get(operation.path, []):
                        case = operation.Case(path_parameters=dict(path_parameters))
                        headers = credentials(case)
                        case.call_and_validate(
                            headers=headers, checks=ALL_CHECKS, excluded_checks=excluded
                        )
                examples(operation.as_strategy(generation_mode=mode), credentials, excluded)
            except Unsatisfiable:  # nothing to make invalid: no parameters, no body
                continue
            # schemathesis raises its failures as a BaseExceptionGroup: collect each, go on.
            except (Exception, BaseExceptionGroup) as exc:
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                failures.append(f"{operation.label} ({mode.value}): {' / '.join(lines[:4])}")
    return failures


def test_with_the_token_and_a_partner_key(fuzzed: Fuzzed) -> None:
    assert fuzz(fuzzed, signed_in=True) == []


def test_without_credentials(fuzzed: Fuzzed) -> None:
    assert fuzz(fuzzed, signed_in=False) == []

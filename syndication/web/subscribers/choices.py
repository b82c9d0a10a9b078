"""The choices of the signup and preferences forms, and their field errors in the page's
language (the service's own messages are English, for the API)."""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool

from syndication import i18n
from syndication.i18n import N_
from syndication.store.subscribers import Subscriber
from syndication.web.forms import Fields, first
from syndication.web.subscribers.face import SubscriberFace

FREQUENCY_LABELS = {
    "daily": N_("Daily digest"),
    "weekly": N_("Weekly digest"),
    "instant": N_("Each new article, as it is published"),
}


def localised_errors(face: SubscriberFace, errors: dict[str, str], locale: str) -> dict[str, str]:
    """The service's field errors (English, for the API) as the page's language."""
    _ = i18n.translations(locale).gettext
    shown: dict[str, str] = {}
    for name in errors:
        if name == "email":
            shown[name] = _("enter a valid email address, like name@example.org")
        elif name == "frequency":
            labels = ", ".join(_(label) for label in FREQUENCY_LABELS.values())
            shown[name] = _("choose one of: %(choices)s") % {"choices": labels}
        elif name == "language":
            codes = face.service.languages or (face.publisher.language,)
            names = ", ".join(i18n.LANGUAGE_NAMES.get(c, c) for c in codes)
            shown[name] = _("choose one of: %(choices)s") % {"choices": names}
        elif name == "topics":
            shown[name] = _("choose topics from the list")
        else:
            shown[name] = errors[name]
    return shown


async def choices(
    face: SubscriberFace,
    locale: str,
    sub: Subscriber | None = None,
    fields: Fields | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The form's options and what is chosen: the posted ``fields``, else the subscriber's
    settings, else the defaults (the page's language, if it is one of the newsletter's)."""
    _ = i18n.translations(locale).gettext
    service = face.service
    found = await run_in_threadpool(service.available_topics)
    # The articles' own names are in their language: the publisher's labels are per page's.
    labels = {
        slug: face.publisher.topic_label(slug, locale, title) for slug, title in found.items()
    }
    topics = dict(sorted(labels.items(), key=lambda item: item[1].casefold()))
    languages = list(service.languages) or [face.publisher.language]
    if fields is not None:
        frequency = first(fields, "frequency")
        chosen_topics = fields.get("topics", [])
        language = first(fields, "language")
    elif sub is not None:
        frequency, chosen_topics, language = sub.frequency, list(sub.topics), sub.language
    else:
        frequency, chosen_topics = service.policy.default_frequency, []
        # A reader browsing in Spanish most likely wants the Spanish newsletter.
        language = locale if locale in languages else ""
    return {
        "frequencies": [(k, _(v)) for k, v in FREQUENCY_LABELS.items()],
        "topics": topics,
        "languages": languages,
        "language_names": i18n.LANGUAGE_NAMES,
        "chosen_frequency": frequency,
        "chosen_topics": chosen_topics,
        "chosen_language": language or face.publisher.language,
        "errors": localised_errors(face, errors or {}, locale),
    }

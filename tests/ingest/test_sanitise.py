"""The sanitiser and normaliser: what every body goes through before it is stored."""

from __future__ import annotations

import re
from html import escape as html_escape
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syndication.config import Publisher, load_publisher
from syndication.ingest.normalise import article_from_data, describe_validation_error
from syndication.ingest.sanitise import sanitise_html

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://news.example.org/news/brief/story/"


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


def test_strips_scripts_styles_and_event_handlers() -> None:
    html = (
        '<p onclick="steal()" style="color:red">Hi<script>alert(1)</script></p>'
        "<style>p{}</style><iframe src='https://evil.example/'>x</iframe>"
        '<img src="/a.png" onerror="steal()"><form><input name=q><button>Go</button></form>'
    )
    out = sanitise_html(html, BASE)
    for bad in ("script", "alert", "onclick", "onerror", "style", "iframe", "form", "input"):
        assert bad not in out
    assert out.startswith("<p>Hi</p>")
    assert '<img src="https://news.example.org/a.png">' in out


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:x",
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_drops_dangerous_urls(href: str) -> None:
    out = sanitise_html(f'<a href="{href}">x</a><img src="{href}">', BASE)
    assert "href" not in out and "<img" not in out
    assert "script" not in out.lower() and "data:" not in out


def test_relative_urls_become_absolute_and_links_get_noopener() -> None:
    out = sanitise_html(
        '<p><a href="../other/">o</a> <a href="/root">r</a> <a href="//cdn.example.com/x">c</a>'
        ' <a href="https://elsewhere.example/" rel="nofollow">e</a>'
        ' <a href="mailto:desk@example.org">m</a></p>'
        '<blockquote cite="/source"><p>q</p></blockquote>',
        BASE,
    )
    assert 'href="https://news.example.org/news/brief/other/"' in out
    assert 'href="https://news.example.org/root"' in out
    assert 'href="https://cdn.example.com/x"' in out
    assert 'href="mailto:desk@example.org"' in out
    assert 'cite="https://news.example.org/source"' in out
    assert out.count('rel="noopener"') == 5
    assert "nofollow" not in out


def test_keeps_article_markup_and_strips_control_characters() -> None:
    html = (
        "<h2>Sub</h2><p><em>a</em> <strong>b</strong> H<sub>2</sub>O x<sup>2</sup></p>"
        '<ul><li>one</li></ul><ol start="3"><li>three</li></ol><blockquote><p>q</p></blockquote>'
        '<figure><img src="i.jpg" alt="alt"><figcaption>cap</figcaption></figure>'
        '<table><thead><tr><th scope="col">h</th></tr></thead><tbody><tr><td>d</td></tr>'
        "</tbody></table><pre><code>x = 1</code></pre><hr><p>a<br>b\x00\x07\x1b</p>"
    )
    out = sanitise_html(html, BASE)
    tags = "h2 em strong sub sup ul ol li blockquote figure figcaption img table thead tbody th td"
    for tag in [*tags.split(), "pre", "code"]:
        assert f"<{tag}" in out, tag
    assert "<hr>" in out and "<br>" in out and 'start="3"' in out
    assert "\x00" not in out and "\x07" not in out and "\x1b" not in out


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_lets_script_through(text: str) -> None:
    out = sanitise_html(f"<p>{text}</p><script>{text}</script><a href='javascript:{text}'>", BASE)
    assert "<script" not in out.lower()
    assert "javascript:" not in out.lower().replace("&", "")


def test_article_from_data_fills_defaults_and_absolutises(publisher: Publisher) -> None:
    article = article_from_data(
        {
            "url": BASE,
            "title": "T",
            "body_html": '<p>Lead <a href="/x">x</a>.</p><p>Second.</p><script>x</script>',
            "published_at": "2026-03-01T10:00:00Z",
            "image": {"url": "/img/a.jpg", "licence": "cc-by-4.0", "credit": "C"},
            "related": [{"title": "R", "url": "../r/"}],
        },
        publisher,
    )
    assert article.licence == "CC-BY-NC-4.0" and article.language == "en"
    assert article.body_html == (
        '<p>Lead <a href="https://news.example.org/x" rel="noopener">x</a>.</p><p>Second.</p>'
    )
    assert article.summary == "Lead x."
    assert article.image is not None and article.image.url == "https://news.example.org/img/a.jpg"
    assert article.image.licence == "CC-BY-4.0"
    assert article.related[0].url == "https://news.example.org/news/brief/r/"


def test_article_from_data_lets_validation_errors_name_fields(publisher: Publisher) -> None:
    with pytest.raises(ValidationError) as info:
        article_from_data(
            {"url": "not a url", "body_html": "<p>x</p>", "published_at": "2026-03-01T10:00:00"},
            publisher,
        )
    fields = {str(e["loc"][0]) for e in info.value.errors()}
    assert {"url", "title", "published_at"} <= fields
    line = describe_validation_error(info.value)
    assert "\n" not in line and "title: Field required" in line
    assert "published_at: must carry a time zone" in line


def test_article_from_data_is_deterministic(publisher: Publisher) -> None:
    data = {"url": BASE, "title": "T", "body_html": "<p>a</p>", "published_at": "2026-03-01"}
    with pytest.raises(ValidationError):
        article_from_data(data, publisher)  # a date without a zone is refused, not guessed
    data["published_at"] = "2026-03-01T00:00:00-05:00"
    assert article_from_data(data, publisher) == article_from_data(data, publisher)


@pytest.mark.parametrize("tag", ["p", "div", "span", "blockquote", "li", "td", "h2", "figcaption"])
def test_keeps_text_direction_on_any_element(tag: str) -> None:
    html = f'<{tag} dir="RTL">مرحبا بالعالم</{tag}>'
    out = sanitise_html(f"<table><tr>{html}</tr></table>" if tag == "td" else html, BASE)
    assert f'<{tag} dir="rtl">مرحبا بالعالم</{tag}>' in out


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_dir_keeps_only_ltr_rtl_or_auto(value: str) -> None:
    out = sanitise_html(f'<p dir="{html_escape(value)}">x</p>', BASE)
    wanted = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]", " ", value).strip().lower()
    if wanted in ("ltr", "rtl", "auto"):
        assert out == f'<p dir="{wanted}">x</p>'
    else:
        assert out == "<p>x</p>"


def test_control_characters_in_a_body_become_spaces() -> None:
    out = sanitise_html('<p title="a\x0bb">one\x00two\x1bthree</p>', BASE)
    assert out == "<p>one two three</p>"
    assert sanitise_html('<p><abbr title="a\x07b">x</abbr></p>', BASE) == (
        '<p><abbr title="a b">x</abbr></p>'
    )


@pytest.mark.parametrize(
    ("summary", "text"),
    [("x<script>a</script>\x01y", "x y"), ("<p>a</p><style>b</style>\x1b", "a")],
)
def test_html_summary_with_control_characters_is_text_not_an_error(
    publisher: Publisher, summary: str, text: str
) -> None:
    """Dropping <script>/<style> moved a control character into lxml text, which raised
    ValueError out of article_from_data (an error page, not a named validation error)."""
    record = {
        "url": "https://insightcrime.org/news/x/",
        "title": "T",
        "summary": summary,
        "body_html": "<p>B</p>",
        "published_at": "2026-11-01T12:00:00Z",
    }
    article = article_from_data(record, publisher)
    assert article.summary == text  # the script/style text gone, the control a space

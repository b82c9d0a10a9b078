"""File import: format detection, JSON shapes, one-line errors naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syndication.config import Publisher, load_publisher
from syndication.ingest.files import expand_paths, load_path, source_urls
from syndication.ingest.normalise import IngestError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "articles"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
SEED_URL = "https://insightcrime.org/news/brief/peru-familiar-stalemate-shining-path-rebels/"


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


def record(slug: str, **extra: object) -> dict[str, object]:
    return {
        "url": f"https://insightcrime.org/news/brief/{slug}/",
        "title": slug.replace("-", " ").title(),
        "body_html": "<p>Body.</p>",
        "published_at": "2026-03-02T09:00:00-05:00",
        **extra,
    }


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", ["object", "list", "articles-key"])
def test_json_shapes(tmp_path: Path, publisher: Publisher, shape: str) -> None:
    one, two = record("one"), record("two")
    data: object = {"object": one, "list": [one, two], "articles-key": {"articles": [one, two]}}[
        shape
    ]
    articles = load_path(write(tmp_path, "a.json", data), publisher)
    assert [a.id for a in articles] == (["one"] if shape == "object" else ["one", "two"])
    assert all(a.licence == "CC-BY-NC-4.0" and a.language == "en" for a in articles)


def test_invalid_article_names_file_and_fields(tmp_path: Path, publisher: Publisher) -> None:
    bad = record("two", published_at="2026-03-02T09:00:00", licence="CC-WHATEVER")
    del bad["title"]
    path = write(tmp_path, "batch.json", {"articles": [record("one"), bad]})
    with pytest.raises(IngestError) as info:
        load_path(path, publisher)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "articles[1].title: Field required" in message
    assert "articles[1].published_at: must carry a time zone" in message
    assert "articles[1].licence" in message
    assert "\n" not in message


def test_single_object_error_names_field(tmp_path: Path, publisher: Publisher) -> None:
    path = write(tmp_path, "one.json", record("x", url="/relative"))
    with pytest.raises(IngestError, match=r"one\.json: url: must be an absolute http\(s\) URL"):
        load_path(path, publisher)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.json", b'{"url": ', "not valid JSON: line 1 column 9"),
        ("number.json", b"42", "expected an article object"),
        ("items.json", b"[1]", r"\[0\]: expected an article object"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("notes.md", b"# hi", "unsupported file type"),
        ("dump.txt", b"no header here", "--url is needed"),
    ],
)
def test_bad_files(
    tmp_path: Path, publisher: Publisher, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=reason) as info:
        load_path(path, publisher)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file(tmp_path: Path, publisher: Publisher) -> None:
    with pytest.raises(IngestError, match=r"gone\.json: no such file"):
        load_path(tmp_path / "gone.json", publisher)


def test_html_and_txt_by_suffix(tmp_path: Path, publisher: Publisher) -> None:
    [page] = load_path(FIXTURES / "og-article.html", publisher)
    assert page.language == "es"
    copy = tmp_path / "page.htm"
    copy.write_bytes((FIXTURES / "wordpress-article.html").read_bytes())
    [wp] = load_path(copy, publisher)
    assert wp.id == "port-inspectors-stretched-thin"
    seed = tmp_path / "seed.txt"
    seed.write_bytes((EXAMPLES / "insightcrime-peru-stalemate.txt").read_bytes())
    [article] = load_path(seed, publisher, url=SEED_URL)
    assert article.authors == ["Sergio Saffón"]


def test_examples_folder_imports_cleanly(publisher: Publisher) -> None:
    """Every sample, the seed included (its URL from sources.toml)."""
    paths = expand_paths([EXAMPLES])
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    assert "sources.toml" not in [p.name for p in paths]
    assert source_urls(EXAMPLES) == {"insightcrime-peru-stalemate.txt": SEED_URL}
    articles = [a for p in paths for a in load_path(p, publisher)]
    assert len(articles) == 6
    by_id = {a.id: a for a in articles}
    assert by_id["peru-familiar-stalemate-shining-path-rebels"].url == SEED_URL
    dated_2026 = sorted(a.published_at for a in articles if a.published_at.year == 2026)
    assert len(dated_2026) == 5 and (dated_2026[-1] - dated_2026[0]).days <= 7
    assert {"Coca", "Extortion", "Environmental Crime"} <= {t for a in articles for t in a.topics}
    assert {"Brief", "Investigation", "Analysis"} <= {a.section for a in articles}
    assert any(a.language == "es" for a in articles)
    assert any(len(a.authors) == 2 for a in articles)
    assert any(a.image and a.image.licence == "CC-BY-4.0" and a.image.credit for a in articles)
    closed = [a for a in articles if not a.republishable]
    assert [a.licence for a in closed] == ["all-rights-reserved"]
    samples = [a for a in articles if a.url != SEED_URL]
    assert all(a.url.startswith("https://example.org/samples/") for a in samples)
    assert all(a.related for a in articles if a.republishable)


def test_expand_paths(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "a.txt").write_text("")
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "notes.md").write_text("")
    (tmp_path / "sub").mkdir()
    missing = tmp_path / "missing.json"
    assert expand_paths([tmp_path, missing]) == [tmp_path / "a.txt", tmp_path / "b.json", missing]

"""Settings: a bad or missing value stops the start with one line that names it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from syndication.config import Brand, ConfigError, load_settings
from tests.support import EXAMPLE_CONFIG


def base() -> dict[str, str]:
    return {"SYNDICATION_CONFIG": str(EXAMPLE_CONFIG)}


def test_example_config_loads():
    s = load_settings(base())
    assert s.publisher.name == "InSight Crime"
    assert s.publisher.licence == "CC-BY-NC-4.0"
    assert s.publisher.timezone == "America/Bogota"
    assert "links to the original" in s.publisher.attribution.terms


def test_previous_secret_keys_are_a_list():
    s = load_settings({**base(), "SYNDICATION_SECRET_KEY_PREVIOUS": f" {'a' * 32}, {'b' * 40} ,"})
    assert s.previous_secret_keys == ("a" * 32, "b" * 40)
    assert load_settings(base()).previous_secret_keys == ()


def test_confirmation_retry_schedule_is_a_list_of_seconds():
    from syndication.services.confirmations import DEFAULT_SCHEDULE, ConfirmationPolicy

    default = load_settings(base())
    assert default.subscribe.confirm_retry_seconds == DEFAULT_SCHEDULE
    assert ConfirmationPolicy.from_settings(default).retry_schedule == DEFAULT_SCHEDULE
    s = load_settings({**base(), "SYNDICATION_CONFIRM_RETRY_SECONDS": " 30, 90 ,600,"})
    assert s.subscribe.confirm_retry_seconds == (30.0, 90.0, 600.0)
    policy = ConfirmationPolicy.from_settings(s)
    assert [policy.delay(n) for n in (1, 2, 3, 9)] == [30.0, 90.0, 600.0, 600.0]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"SYNDICATION_REDIS_URL": "http://localhost"}, "SYNDICATION_REDIS_URL"),
        ({"SYNDICATION_PUBLIC_URL": "not a url"}, "SYNDICATION_PUBLIC_URL"),
        ({"SYNDICATION_SECRET_KEY": "short"}, "SYNDICATION_SECRET_KEY"),
        ({"SYNDICATION_API_TOKEN": "short"}, "SYNDICATION_API_TOKEN"),
        ({"SYNDICATION_SMTP_URL": "mail://x"}, "SYNDICATION_SMTP_URL"),
        ({"SYNDICATION_FEED_ITEMS": "lots"}, "SYNDICATION_FEED_ITEMS"),
        ({"SYNDICATION_CONFIG": "/nonexistent.toml"}, "SYNDICATION_CONFIG"),
        (
            {"SYNDICATION_SECRET_KEY_PREVIOUS": "a" * 40 + ",short"},
            "SYNDICATION_SECRET_KEY_PREVIOUS",
        ),
        ({"SYNDICATION_ADMIN_PASSWORD": "short"}, "SYNDICATION_ADMIN_PASSWORD"),
        ({"SYNDICATION_ADMIN_PASSWORD_HASH": "plain"}, "SYNDICATION_ADMIN_PASSWORD_HASH"),
        ({"SYNDICATION_DIGEST_APPROVAL_MINUTES": "-1"}, "SYNDICATION_DIGEST_APPROVAL_MINUTES"),
        ({"SYNDICATION_CONFIRM_RETRY_SECONDS": "60,soon"}, "SYNDICATION_CONFIRM_RETRY_SECONDS"),
        ({"SYNDICATION_CONFIRM_RETRY_SECONDS": "0"}, "SYNDICATION_CONFIRM_RETRY_SECONDS"),
        ({"SYNDICATION_CONFIRM_GIVE_UP_HOURS": "0"}, "SYNDICATION_CONFIRM_GIVE_UP_HOURS"),
    ],
)
def test_invalid_setting_is_named(extra, named):
    with pytest.raises(ConfigError) as err:
        load_settings({**base(), **extra})
    assert str(err.value).startswith(named)
    assert "\n" not in str(err.value)


def test_bad_toml_names_file_and_key(tmp_path: Path):
    bad = tmp_path / "syndication.toml"
    bad.write_text('[publisher]\nname = "X"\nsite_url = "https://x.org"\nlicence = "CC-BY-XX"\n')
    with pytest.raises(ConfigError, match=r"SYNDICATION_CONFIG: .*publisher\.licence"):
        load_settings({"SYNDICATION_CONFIG": str(bad)})
    bad.write_text("[publisher\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"SYNDICATION_CONFIG": str(bad)})


def test_missing_required_setting_is_named_when_needed():
    s = load_settings(base())
    with pytest.raises(ConfigError, match=r"^SYNDICATION_REDIS_URL is not set"):
        s.need_redis_url()
    with pytest.raises(ConfigError, match=r"^SYNDICATION_SECRET_KEY is not set"):
        s.need_secret_key()


def test_cli_prints_one_line_and_exit_code_2(tmp_path: Path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SYNDICATION_CONFIG": str(EXAMPLE_CONFIG),
        "SYNDICATION_REDIS_URL": "http://wrong",
    }
    out = subprocess.run(
        [sys.executable, "-m", "syndication.cli", "feeds", "build"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: SYNDICATION_REDIS_URL: must be a redis://, rediss://, unix://, "
        "redis+cluster:// or redis+sentinel:// URL"
    ]


def test_dkim_keys_go_with_their_selector_and_the_domain(tmp_path: Path):
    """RSA, Ed25519 or both; each key file needs its selector, and every key the domain."""
    key = str(tmp_path / "k.pem")  # not read here: services/dkim_keys.py reads it
    rsa = {"SYNDICATION_DKIM_SELECTOR": "r", "SYNDICATION_DKIM_KEY_FILE": key}
    ed = {"SYNDICATION_DKIM_ED25519_SELECTOR": "e", "SYNDICATION_DKIM_ED25519_KEY_FILE": key}
    domain = {"SYNDICATION_DKIM_DOMAIN": "example.org"}
    for ok in ({**rsa, **domain}, {**ed, **domain}, {**rsa, **ed, **domain}):
        mail = load_settings({**base(), **ok}).mail
        assert (mail.dkim_key_file is None) == ("SYNDICATION_DKIM_KEY_FILE" not in ok)
        assert (mail.dkim_ed25519_key_file is None) == (
            "SYNDICATION_DKIM_ED25519_KEY_FILE" not in ok
        )
    bad = (
        (rsa, "SYNDICATION_DKIM_SELECTOR"),
        (ed, "SYNDICATION_DKIM_ED25519_SELECTOR"),
        (domain, "SYNDICATION_DKIM_SELECTOR"),
        ({**ed, **domain, "SYNDICATION_DKIM_SELECTOR": "r"}, "SYNDICATION_DKIM_SELECTOR"),
        ({"SYNDICATION_DKIM_ED25519_KEY_FILE": key, **domain}, "SYNDICATION_DKIM_ED25519"),
    )
    for extra, named in bad:
        with pytest.raises(ConfigError) as err:
            load_settings({**base(), **extra})
        assert named in str(err.value) and "\n" not in str(err.value)


def _publisher(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    from syndication.config import load_publisher

    path = tmp_path / "syndication.toml"
    base = '[publisher]\nname = "P"\nsite_url = "https://p.example"\nlanguages = ["en", "es"]\n'
    path.write_text(base + text, encoding="utf-8")
    return load_publisher(path)


def test_reader_facing_text_per_language_or_one_string(tmp_path: Path):
    plain = _publisher(tmp_path, 'description = "News"\n')
    assert plain.describe("es") == plain.describe("en") == "News"  # the publisher's language
    local = _publisher(
        tmp_path,
        'description = { en = "News", es = "Noticias" }\n'
        '[publisher.topics]\ngangs = { en = "Gangs", es = "Pandillas" }\n'
        '[publisher.sections]\nbrief = "Brief"\n',
    )
    assert (local.describe("es-CO"), local.describe("fr")) == ("Noticias", "News")
    assert local.topic_label("gangs", "es") == "Pandillas"
    assert local.topic_label("coca", "es", "Coca") == "Coca"  # no label: the articles' name
    assert local.section_label("Brief", "es") == "Brief"  # only an English label: as it is


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('description = { en = "News", sp = "Noticias" }\n', "'sp' is not one of languages"),
        ('description = { en = "News", es = " " }\n', "description.es is blank"),
        ('[publisher.topics]\n"Gangs" = "Gangs"\n', "'Gangs' is not a slug (try 'gangs')"),
    ],
)
def test_bad_localised_text_is_named(tmp_path: Path, text: str, named: str):
    with pytest.raises(ConfigError, match=re.escape(named)):
        _publisher(tmp_path, text)


def test_brand_values_are_safe_in_css_and_html() -> None:
    """Colours, fonts and the logo go into CSS and attributes unescaped-by-context: only
    hex colours, unquoted font names and http(s) logos are accepted."""
    assert Brand().primary == "#a3001b"
    assert Brand(primary="#ABC").primary == "#abc"
    for bad in (
        {"primary": "red; } body { display: none"},
        {"text": "#12345"},
        {"font": "Georgia; } a { color: red"},
        {"font": "'Times New Roman', serif"},
        {"heading_font": "</style><script>"},
        {"logo_url": "javascript:alert(1)"},
        {"logo_url": "data:image/png;base64,AAAA"},
    ):
        with pytest.raises(ValueError):
            Brand(**bad)
    brand = Brand(primary="#ffdd00")
    assert brand.on_primary == "#1a1a1a"  # dark text on a light button
    assert Brand().on_primary == "#ffffff"

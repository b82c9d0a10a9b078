"""The wheel is what the Docker image installs, so it must work without the source tree.

The development venv has an *editable* install, where ``templates/`` is found beside the
package in the checkout; a wheel that forgot the templates would pass every other test and
fail only in production. So: build the wheel once, check what it holds, then import it from
an unpacked copy with the checkout off ``sys.path`` and render a template.

The image and the venv install from lock files (requirements.lock, requirements-dev.lock,
made by ``make lock``): every package pinned with its hashes, every direct dependency there.
"""

from __future__ import annotations

import argparse
import configparser
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

from syndication.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
DIST_INFO = f"syndication-{VERSION}.dist-info"
PACKAGES = ("syndication", "workers")


def _command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every node of the argparse tree: (), ("serve",), ("feeds",), ("feeds", "build") …"""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, (*prefix, name))


COMMAND_PATHS = list(_command_paths(build_parser()))


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


# -- build once per module ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is not installed in this venv: make venv")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=out,
    )
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    built = list(out.glob("*.whl"))
    assert len(built) == 1, built
    assert built[0].name == f"syndication-{VERSION}-py3-none-any.whl"
    return built[0]


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's contents, as ``pip install`` would put them in site-packages."""
    site = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


# -- what the wheel holds -----------------------------------------------------------------------


def test_wheel_ships_every_template(wheel: Path, names: set[str]) -> None:
    expected = _files(TEMPLATES)
    assert "web/index.html" in expected
    missing = [rel for rel in expected if f"syndication/templates/{rel}" not in names]
    assert not missing, f"templates/ files not in the wheel: {missing}"
    with zipfile.ZipFile(wheel) as zf:
        for rel in expected:
            assert zf.read(f"syndication/templates/{rel}") == (TEMPLATES / rel).read_bytes(), rel


def test_wheel_ships_both_packages(names: set[str]) -> None:
    for package in ("syndication", "workers"):
        expected = [f"{package}/{rel}" for rel in _files(ROOT / package) if rel.endswith(".py")]
        assert f"{package}/__init__.py" in expected
        missing = sorted(set(expected) - names)
        assert not missing, f"not in the wheel: {missing}"
    for module in ("workers/celery_app.py", "workers/tasks.py", "syndication/cli/__init__.py"):
        assert module in names


def test_wheel_ships_the_message_catalogs(names: set[str]) -> None:
    """The .po files are read at runtime (syndication.i18n): no .mo, no compile step."""
    for locale in ("en", "es"):
        assert f"syndication/locale/{locale}/LC_MESSAGES/messages.po" in names
    assert not [n for n in names if n.endswith(".mo")]


def test_wheel_holds_nothing_stray(names: set[str]) -> None:
    top = {n.split("/")[0] for n in names}
    assert top == {"syndication", "workers", DIST_INFO}, top
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_declares_the_console_script_and_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read(f"{DIST_INFO}/entry_points.txt").decode()
        metadata = zf.read(f"{DIST_INFO}/METADATA").decode()
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert dict(parser["console_scripts"]) == {"syndication": "syndication.cli:main"}
    assert PYPROJECT["project"]["scripts"] == {"syndication": "syndication.cli:main"}
    assert f"Version: {VERSION}" in metadata.splitlines()
    assert "Requires-Python: >=3.11" in metadata.splitlines()
    required = {line.split(":", 1)[1].strip() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line}  # fmt: skip
    assert required == set(PYPROJECT["project"]["dependencies"])


# -- a non-editable install works on its own -------------------------------------------------------

_CHILD = r"""
import contextlib, io, json, sys
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path

config, paths = Path(sys.argv[1]), sys.argv[2]

import syndication
from syndication.config import load_publisher
from syndication.i18n import format_date
from syndication.licences import LICENCES, deed_url, display_name, legal_code_url
from syndication.models import Article
from syndication.templating import environment, templates_dir

publisher = load_publisher(config)
article = Article.model_validate({
    "url": "https://insightcrime.org/news/brief/packaging-check/",
    "title": "Packaging <check>",
    "body_html": "<p>body</p>",
    "authors": ["A. Reporter"],
    "published_at": datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc),
    "section": "Briefs",
})
licence = LICENCES[publisher.licence]
html = environment().get_template("web/index.html").render(
    publisher=publisher,
    locale="en",
    locales=[],
    public_url="https://feeds.example.org",
    articles=[article],
    published=[format_date(article.published_at, "en")],
    licence=licence,
    licence_name=display_name(licence, "en"),
    licence_deed=deed_url(licence, "en"),
    licence_legal_code=legal_code_url(licence, "en"),
    feeds_url="/feeds",
    subscribe_url="/subscribe",
    archive_url="/archive",
)

(script,) = entry_points(group="console_scripts", name="syndication")
cli_main = script.load()
helps = {}
for path in json.loads(paths):
    out = io.StringIO()
    code = None
    with contextlib.redirect_stdout(out):
        try:
            cli_main([*path, "--help"])
        except SystemExit as exc:
            code = exc.code
    helps[" ".join(path)] = {"code": code, "out": out.getvalue()}

import workers.celery_app  # the worker package imports on its own too
from syndication import i18n

loaded = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
print(json.dumps({
    "syndication": syndication.__file__,
    "templates_dir": str(templates_dir()),
    "html": html,
    "spanish": i18n.gettext("es", "Read more"),
    "entry_point": script.value,
    "cli_main_file": sys.modules[cli_main.__module__].__file__,
    "helps": helps,
    "sys_path": sys.path,
    "loaded": {n: f for n, f in loaded.items() if f},
}))
"""


@pytest.fixture(scope="module")
def from_wheel(unpacked: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run Python on the unpacked wheel plus the venv's dependencies, far from the checkout.

    ``-S`` skips site-packages processing, so the editable install's ``.pth`` (which puts the
    checkout on ``sys.path``) is never read; the venv's site-packages is on PYTHONPATH only
    for the third-party dependencies, after the unpacked wheel.
    """
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    config = elsewhere / "syndication.toml"
    shutil.copy(ROOT / "examples" / "insightcrime.toml", config)
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    assert str(ROOT) not in deps
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(unpacked), *deps])
    env["PYTHONNOUSERSITE"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            _CHILD,
            str(config),
            json.dumps(COMMAND_PATHS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=elsewhere,
        env=env,
    )
    assert proc.returncode == 0, f"importing the unpacked wheel failed:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_unpacked_wheel_imports_nothing_from_the_checkout(
    from_wheel: dict[str, Any], unpacked: Path
) -> None:
    assert Path(from_wheel["syndication"]).is_relative_to(unpacked)
    # The venv may live inside the checkout; its site-packages (dependencies only) may be used,
    # nothing else under ROOT may.
    venv = Path(sys.prefix).resolve()

    def from_checkout(path: str) -> bool:
        resolved = Path(path).resolve()
        return resolved.is_relative_to(ROOT.resolve()) and not resolved.is_relative_to(venv)

    assert not [p for p in from_wheel["sys_path"] if p and from_checkout(p)]
    sources = {n: f for n, f in from_wheel["loaded"].items() if from_checkout(f)}
    assert not sources, f"modules loaded from the source tree: {sorted(sources)}"
    ours = {n: f for n, f in from_wheel["loaded"].items() if n.split(".")[0] in PACKAGES}
    assert len(ours) > 5 and all(Path(f).is_relative_to(unpacked) for f in ours.values()), ours


def test_templates_resolve_inside_the_installed_package(
    from_wheel: dict[str, Any], unpacked: Path
) -> None:
    assert Path(from_wheel["templates_dir"]) == unpacked / "syndication" / "templates"


def test_index_template_renders_from_the_wheel(from_wheel: dict[str, Any]) -> None:
    html = from_wheel["html"]
    assert html.startswith("<!doctype html>")
    assert "<title>InSight Crime — feeds and newsletters</title>" in html
    assert 'href="https://feeds.example.org/feeds/all.rss"' in html
    assert "Packaging &lt;check&gt;" in html  # autoescape is on for .html
    assert re.search(r"A\. Reporter · <time[^>]*>May 6, 2024</time> · Briefs", html)
    assert "Creative Commons Attribution-NonCommercial 4.0 International" in html
    assert from_wheel["spanish"] == "Leer más"  # the catalog loads from the installed package


def test_console_script_entry_point_runs_from_the_wheel(
    from_wheel: dict[str, Any], unpacked: Path
) -> None:
    assert from_wheel["entry_point"] == "syndication.cli:main"
    assert Path(from_wheel["cli_main_file"]).is_relative_to(unpacked)
    for path, result in from_wheel["helps"].items():
        assert result["code"] == 0, path
        assert result["out"].startswith(f"usage: {' '.join(['syndication', *path.split()])}")


# -- --help everywhere ----------------------------------------------------------------------------


def test_the_documented_commands_exist() -> None:
    documented = {
        (),
        ("demo",),
        ("serve",),
        ("worker",),
        ("beat",),
        ("import",),
        ("poll",),
        ("feeds",),
        ("feeds", "build"),
        ("check",),
    }
    assert documented <= set(COMMAND_PATHS), sorted(documented - set(COMMAND_PATHS))


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "syndication")
def test_help_exits_zero_with_usage(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(['syndication', *path])}"), out[:200]


def test_installed_console_script_help() -> None:
    script = Path(sys.executable).parent / ("syndication.exe" if os.name == "nt" else "syndication")
    if not script.exists():
        pytest.fail(f"{script} is missing: make venv creates it")
    proc = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT.parent
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: syndication")
    for command in ("demo", "serve", "worker", "beat", "import", "poll", "feeds", "check"):
        assert command in proc.stdout


# -- the lock files -----------------------------------------------------------------------------

LOCKS = {"runtime": ROOT / "requirements.lock", "dev": ROOT / "requirements-dev.lock"}
_PIN = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)(?:\s*;(?P<marker>.+))?"
)
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class _Pin:
    version: str
    marker: str
    hashes: frozenset[str]


def _normalise(name: str) -> str:
    """PEP 503: case, and runs of ``-``, ``_`` and ``.``, do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries(path: Path) -> list[str]:
    """A lock file's entries, one per package: continued lines joined, comments dropped."""
    assert path.is_file(), f"{path.name} is missing: make lock"
    entries, current = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            entries.append(current.strip())
            current = ""
    assert not current, f"{path.name} ends in a continued line"
    return entries


def _pins(path: Path) -> dict[str, list[_Pin]]:
    """Name (normalised) -> its pins; more than one only under different markers."""
    pins: dict[str, list[_Pin]] = {}
    for entry in _entries(path):
        requirement, _, options = entry.partition(" --")
        match = _PIN.fullmatch(requirement.strip())
        assert match, f"{path.name}: {requirement!r} is not a package pinned with =="
        options = "--" + options if options else ""
        hashes = frozenset(_HASH.findall(options))
        assert hashes, f"{path.name}: {match['name']} has no --hash=sha256:"
        unknown = _HASH.sub("", options).split()
        assert not unknown, f"{path.name}: {match['name']}: only hashes belong here: {unknown}"
        marker = (match["marker"] or "").strip()
        pins.setdefault(_normalise(match["name"]), []).append(
            _Pin(match["version"], marker, hashes)
        )
    for name, found in pins.items():
        markers = [pin.marker for pin in found]
        assert len(found) == 1 or ("" not in markers and len(set(markers)) == len(markers)), (
            f"{path.name}: {name} is pinned more than once: {found}"
        )
    return pins


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_every_locked_package_is_pinned_with_hashes(which: str) -> None:
    path = LOCKS[which]
    pins = _pins(path)  # asserts == and at least one sha256 hash per package
    assert len(pins) > 20, f"{path.name}: only {sorted(pins)}"
    text = path.read_text(encoding="utf-8")
    assert "make lock" in text.split("\n\n", 1)[0], f"{path.name}: the header tells how to refresh"


def test_every_direct_dependency_is_locked() -> None:
    """Runtime and build backend in both locks, the dev extra in the dev lock, each pinned
    to a version its specifier allows: a dependency added to pyproject.toml but not locked
    fails here (and in make venv's pip check)."""
    project = PYPROJECT["project"]
    runtime = project["dependencies"]
    build = PYPROJECT["build-system"]["requires"]
    assert PYPROJECT["dependency-groups"]["build"] == build, "keep them equal (make lock)"
    wanted = {"runtime": runtime + build, "dev": runtime + project["optional-dependencies"]["dev"]}
    for which, requirements in wanted.items():
        pins = _pins(LOCKS[which])
        for text in requirements:
            requirement = Requirement(text)
            name = _normalise(requirement.name)
            assert name in pins, f"{LOCKS[which].name} lacks {text!r}: make lock"
            versions = [pin.version for pin in pins[name]]
            assert any(requirement.specifier.contains(v, prereleases=True) for v in versions), (
                f"{LOCKS[which].name} pins {name} to {versions}, outside {text!r}: make lock"
            )


def test_the_image_gets_the_versions_the_tests_run_with() -> None:
    """requirements.lock is made with requirements-dev.lock as its constraints."""
    runtime, dev = _pins(LOCKS["runtime"]), _pins(LOCKS["dev"])
    for name, pins in runtime.items():
        assert name in dev, f"{name} is in requirements.lock only: make lock"
        theirs = {(pin.version, pin.hashes) for pin in dev[name]}
        assert {(pin.version, pin.hashes) for pin in pins} <= theirs, f"{name}: make lock"


def test_the_venv_holds_what_the_dev_lock_pins() -> None:
    wrong = {}
    for name, pins in _pins(LOCKS["dev"]).items():
        versions = {Version(p.version) for p in pins if not p.marker or Marker(p.marker).evaluate()}
        if not versions:
            continue  # not for this platform
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            wrong[name] = f"missing, locked {sorted(map(str, versions))}"
            continue
        if installed not in versions:
            wrong[name] = f"{installed}, locked {sorted(map(str, versions))}"
    assert not wrong, f"not what requirements-dev.lock pins (make clean venv): {wrong}"

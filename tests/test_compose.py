"""docker-compose.yml and the Dockerfile name only commands and settings that exist.

No Docker engine is needed: the files are parsed and every ``syndication …`` command they
run goes through the real argparse tree, every ``SYNDICATION_*`` variable they set is checked
against the fields ``syndication.config`` reads, and the values compose would pass (with
defaults filled in) go through ``load_settings``, so a typo fails here, not on a server.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from syndication.cli import build_parser
from syndication.config import ENV_PREFIX, _Env, load_publisher, load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what a server in a container must bind
KNOWN_VARS = {ENV_PREFIX + name.upper() for name in _Env.model_fields}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# -- reading the files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    if current:
        logical.append(current)
    out = []
    for text in logical:
        word, _, rest = text.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _exec_form(args: str) -> list[str]:
    """ENTRYPOINT/CMD arguments; the exec (JSON) form is required so signals reach Python."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def _argv(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _dockerfile_final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1] :]


def _dockerfile_command() -> tuple[list[str], list[str]]:
    entrypoint: list[str] = []
    cmd: list[str] = []
    for word, args in _dockerfile_final_stage():
        if word == "ENTRYPOINT":
            entrypoint = _exec_form(args)
        elif word == "CMD":
            cmd = _exec_form(args)
    return entrypoint, cmd


def _is_app(service: dict[str, Any]) -> bool:
    """Built from this repository's Dockerfile (web, worker, beat), not a third-party image."""
    return "build" in service or "syndication" in str(service.get("image", ""))


def _app_argv(service: dict[str, Any]) -> list[str]:
    """What the container runs: compose's entrypoint/command, else the image's."""
    image_entrypoint, image_cmd = _dockerfile_command()
    entrypoint = _argv(service["entrypoint"]) if "entrypoint" in service else image_entrypoint
    if "command" in service:
        command = _argv(service["command"])
    elif "entrypoint" in service:
        command = []  # compose: overriding the entrypoint drops the image's CMD
    else:
        command = image_cmd
    return entrypoint + command


def _assert_cli_accepts(argv: list[str], where: str) -> Any:
    assert argv and argv[0] == "syndication", f"{where}: runs {argv!r}, not syndication"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse reports a bad command line by exiting
        pytest.fail(
            f"{where}: `{shlex.join(argv)}` is rejected (exit {exc.code}): {err.getvalue()}"
        )
    assert callable(getattr(args, "fn", None)), f"{where}: {argv!r} names no command"
    return args


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's substitution, with ``given`` as the shell environment/.env."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in given and (given[name] or not (op or "").startswith(":")):
            return given[name]
        if op and op.endswith("?"):
            raise LookupError(f"{name}: {arg}")
        return arg or ""

    return _INTERPOLATION.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def _walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_strings(key)
            yield from _walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_strings(item)


# -- commands -----------------------------------------------------------------------------------


def test_compose_runs_web_worker_beat_from_this_image(services: dict[str, dict[str, Any]]) -> None:
    roles = {name: _app_argv(svc)[1] for name, svc in services.items() if _is_app(svc)}
    assert sorted(roles.values()) == ["beat", "serve", "worker"], roles


def test_every_compose_command_is_a_real_cli_command(services: dict[str, dict[str, Any]]) -> None:
    apps = {name: svc for name, svc in services.items() if _is_app(svc)}
    assert apps
    for name, svc in apps.items():
        _assert_cli_accepts(_app_argv(svc), f"docker-compose.yml service {name!r}")


def test_dockerfile_entrypoint_and_cmd_are_a_real_cli_command() -> None:
    entrypoint, cmd = _dockerfile_command()
    assert entrypoint == ["syndication"]
    args = _assert_cli_accepts(entrypoint + cmd, "Dockerfile ENTRYPOINT+CMD")
    assert args.command == "serve" and args.host == ALL_INTERFACES


def test_web_listens_where_the_healthcheck_and_ports_look(
    services: dict[str, dict[str, Any]],
) -> None:
    web = next(s for s in services.values() if _is_app(s) and _app_argv(s)[1] == "serve")
    args = _assert_cli_accepts(_app_argv(web), "web")
    assert args.host == ALL_INTERFACES, "inside a container, 127.0.0.1 is unreachable from outside"
    assert any(str(p).endswith(f":{args.port}") for p in web.get("ports", [])), web.get("ports")
    healthchecks = [a for w, a in _dockerfile_final_stage() if w == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert f"127.0.0.1:{args.port}/healthz" in healthchecks[0]
    assert "curl" not in healthchecks[0] and "wget" not in healthchecks[0]
    assert "healthcheck" not in web or not web["healthcheck"].get("disable")


def test_non_web_roles_do_not_inherit_the_http_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, svc in services.items():
        if _is_app(svc) and _app_argv(svc)[1] != "serve":
            assert svc.get("healthcheck", {}).get("disable") is True, name


# -- topology -----------------------------------------------------------------------------------


def test_redis_is_persistent_and_healthchecked(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    redis = services["redis"]
    assert str(redis["image"]).split(":")[0] == "redis"
    argv = _argv(redis["command"])
    assert argv[0] == "redis-server"
    options = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert options.get("--appendonly") == "yes"
    # always: a claim is on disk before its SMTP transaction (README, sends under faults)
    assert options.get("--appendfsync") == "always"
    assert options.get("--maxmemory-policy", "noeviction") == "noeviction"
    volumes = [str(v) for v in redis.get("volumes", [])]
    named = [v.split(":")[0] for v in volumes if v.endswith(":/data")]
    assert named and named[0] in (compose.get("volumes") or {}), volumes
    assert "redis-cli" in _argv(redis["healthcheck"]["test"])


def test_app_services_wait_for_a_healthy_redis(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if _is_app(svc):
            assert svc["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_worker_is_scalable(services: dict[str, dict[str, Any]]) -> None:
    workers = [s for s in services.values() if _is_app(s) and _app_argv(s)[1] == "worker"]
    assert len(workers) == 1
    assert "container_name" not in workers[0]
    assert "ports" not in workers[0]
    assert not _assert_cli_accepts(_app_argv(workers[0]), "worker").beat


def test_exactly_one_beat_with_its_schedule_on_a_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    beats = []
    for name, svc in services.items():
        if not _is_app(svc):
            continue
        args = _assert_cli_accepts(_app_argv(svc), name)
        if args.command == "beat" or (args.command == "worker" and args.beat):
            beats.append((name, svc, args))
    assert len(beats) == 1, [b[0] for b in beats]
    name, svc, args = beats[0]
    assert svc.get("deploy", {}).get("replicas", 1) == 1
    schedule_dir = str(Path(args.schedule).parent)
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in svc.get("volumes", [])}
    assert schedule_dir in mounts, f"{name}: {args.schedule} is not on a volume"
    assert mounts[schedule_dir] in (compose.get("volumes") or {})


def test_mail_catcher_receives_the_apps_mail(services: dict[str, dict[str, Any]]) -> None:
    web = next(s for s in services.values() if _is_app(s))
    smtp = urlsplit(_interpolate(_environment(web)["SYNDICATION_SMTP_URL"], {}))
    assert smtp.hostname in services, f"SMTP host {smtp.hostname!r} is not a compose service"
    catcher = services[smtp.hostname]
    assert "mailpit" in str(catcher["image"]) and smtp.port == 1025


# -- configuration ------------------------------------------------------------------------------


def test_every_syndication_variable_is_known_to_config(compose: dict[str, Any]) -> None:
    named = set()
    for svc in compose["services"].values():
        named |= set(_environment(svc))
    for text in _walk_strings(compose):
        named |= {m.group(1) for m in _INTERPOLATION.finditer(text)}
    named |= set(re.findall(r"\bSYNDICATION_[A-Z0-9_]+", DOCKERFILE.read_text(encoding="utf-8")))
    ours = {n for n in named if n.startswith(ENV_PREFIX)}
    assert ours, "no SYNDICATION_* variables found: did the parsing break?"
    assert ours <= KNOWN_VARS, f"unknown to syndication/config.py: {sorted(ours - KNOWN_VARS)}"


def test_all_app_services_share_one_environment(services: dict[str, dict[str, Any]]) -> None:
    envs = [_environment(s) for s in services.values() if _is_app(s)]
    assert envs and all(e == envs[0] for e in envs)


def test_secrets_are_required_and_never_written_down(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(next(s for s in services.values() if _is_app(s)))
    for var in ("SYNDICATION_SECRET_KEY", "SYNDICATION_API_TOKEN"):
        match = _INTERPOLATION.fullmatch(env[var])
        assert match, f"{var} must come from the environment, not the file: {env[var]!r}"
        assert match.group(1) == var and match.group(2) == ":?" and match.group(3).strip(), (
            f"{var} must be ${{{var}:?message}} so compose refuses to start without it"
        )
    # Nothing secret (or deployment-specific) is baked into the image.
    baked = " ".join(f"{w} {a}" for w, a in _dockerfile_instructions())
    found = re.findall(r"SECRET_KEY|API_TOKEN|REDIS_URL|SMTP_URL|PASSWORD", baked)
    assert not found, f"the Dockerfile sets {found}: these belong to the runtime environment"


def test_compose_environment_is_valid_settings(services: dict[str, dict[str, Any]]) -> None:
    """What the containers would get, with the required secrets supplied, passes validation."""
    given = {"SYNDICATION_SECRET_KEY": "k" * 64, "SYNDICATION_API_TOKEN": "t" * 32}
    raw = _environment(next(s for s in services.values() if _is_app(s)))
    env = {k: _interpolate(v, given) for k, v in raw.items()}
    assert env["SYNDICATION_CONFIG"] == "/etc/syndication/syndication.toml"
    env["SYNDICATION_CONFIG"] = str(ROOT / "examples" / "insightcrime.toml")  # the file copied
    settings = load_settings(env)
    assert settings.secret_key == given["SYNDICATION_SECRET_KEY"]
    redis_host = urlsplit(settings.need_redis_url()).hostname
    assert redis_host in services, f"Redis host {redis_host!r} is not a compose service"
    with pytest.raises(LookupError, match="SYNDICATION_SECRET_KEY"):
        _interpolate(raw["SYNDICATION_SECRET_KEY"], {})  # what compose does without .env


# -- the Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    instructions = _dockerfile_instructions()
    args = dict(a.split("=", 1) for w, a in instructions if w == "ARG" and "=" in a)
    froms = [a.split()[0] for w, a in instructions if w == "FROM"]
    arg_ref = re.compile(r"\$\{?(\w+)\}?")
    images = [arg_ref.sub(lambda m: args.get(m.group(1), m.group(0)), f) for f in froms]
    assert len(images) >= 2 and all(i == "python:3.11-slim" for i in images), images
    final = _dockerfile_final_stage()
    users = [a for w, a in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    installs = [a for w, a in final if w == "RUN" and "pip install" in a]
    assert installs and all(" -e " not in f" {a} " and "--editable" not in a for a in installs)
    assert any("/wheels" in a for a in installs), "the final stage installs the built wheel"
    copies = [a for w, a in final if w == "COPY" and "--from" not in a]
    assert "examples/insightcrime.toml /etc/syndication/syndication.toml" in copies
    env = " ".join(a for w, a in final if w == "ENV")
    assert "SYNDICATION_CONFIG=/etc/syndication/syndication.toml" in env


def test_dockerfile_installs_only_what_requirements_lock_pins() -> None:
    """Every pip command either checks hashes against the lock or reaches no index, and the
    project's own wheel is built by the locked backend (no isolated build environment)."""
    commands = [
        part.strip()
        for word, args in _dockerfile_instructions()
        if word == "RUN"
        for part in args.split("&&")
        if re.search(r"\bpip (install|wheel)\b", part)
    ]
    locked = [c for c in commands if "--require-hashes" in c.split()]
    assert locked and all("requirements.lock" in shlex.split(c) for c in locked), locked
    assert all(c in locked or "--no-index" in c.split() for c in commands), commands
    project = [c for c in commands if "pip wheel" in c and shlex.split(c)[-1] == "."]
    assert len(project) == 1, commands
    assert {"--no-deps", "--no-build-isolation"} <= set(project[0].split()), project
    copies = [a.split() for w, a in _dockerfile_instructions() if w == "COPY"]
    assert any("requirements.lock" in c for c in copies), "the lock must reach the build stage"


def _dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's rule: a pattern matches from the context root; ``**`` spans folders."""
    out = ""
    for token in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        if token in ("**", "**/"):
            out += "(?:.*/)?" if token == "**/" else ".*"
        elif token == "*":
            out += "[^/]*"
        elif token == "?":
            out += "[^/]"
        else:
            out += re.escape(token)
    return re.compile(out)


def _ignored_by(path: str, patterns: list[str]) -> str | None:
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    last = None  # later lines win; "!" re-includes
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _dockerignore_regex(pattern.removeprefix("!"))
        if any(regex.fullmatch(c) for c in candidates):
            last = None if negate else pattern
    return last


def test_dockerignore_rules_as_understood_here() -> None:
    patterns = ["**/__pycache__", "tests", ".env", "*.rdb"]
    assert _ignored_by("syndication/web/__pycache__/x.pyc", patterns) == "**/__pycache__"
    assert _ignored_by("tests/test_api.py", patterns) == "tests"
    assert _ignored_by("dump.rdb", patterns) == "*.rdb"
    assert _ignored_by("data/dump.rdb", patterns) is None
    assert _ignored_by("syndication/tests.py", patterns) is None


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    patterns = _dockerignore_patterns()
    for secretish in (".env", ".git", ".venv"):
        assert _ignored_by(secretish, patterns), f"{secretish} must not reach the build context"
    copied = 0
    for word, args in _dockerfile_instructions():
        if word != "COPY" or "--from" in args:
            continue
        for source in [a for a in args.split() if not a.startswith("--")][:-1]:
            copied += 1
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            rule = _ignored_by(source, patterns)
            assert rule is None, f"COPY {source}: excluded by .dockerignore line {rule!r}"
            if (ROOT / source).is_dir():
                for file in (ROOT / source).rglob("*.py"):
                    rel = file.relative_to(ROOT).as_posix()
                    if "__pycache__" not in rel:
                        rule = _ignored_by(rel, patterns)
                        assert rule is None, f"{rel}: excluded by .dockerignore line {rule!r}"
    assert copied >= 5


def test_default_config_in_the_image_loads() -> None:
    publisher = load_publisher(ROOT / "examples" / "insightcrime.toml")
    assert publisher.name


def _seconds(duration: str) -> float:
    """A compose duration (``45s``, ``1m30s``, ``90``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)?", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(float(n) * units[u or "s"] for n, u in parts)


def test_worker_grace_period_fits_the_message_in_flight(
    services: dict[str, dict[str, Any]],
) -> None:
    """docker stop SIGKILLs after ``stop_grace_period``: a draining sender needs one SMTP
    wait for the message in flight, then a few seconds to release its claims and exit."""
    given = {"SYNDICATION_SECRET_KEY": "k" * 64, "SYNDICATION_API_TOKEN": "t" * 32}
    worker = next(s for s in services.values() if _is_app(s) and _app_argv(s)[1] == "worker")
    env = {k: _interpolate(v, given) for k, v in _environment(worker).items()}
    env["SYNDICATION_CONFIG"] = str(ROOT / "examples" / "insightcrime.toml")
    settings = load_settings(env)
    grace = _seconds(worker.get("stop_grace_period", "10s"))
    assert grace >= settings.mail.smtp_timeout + 10, (grace, settings.mail.smtp_timeout)

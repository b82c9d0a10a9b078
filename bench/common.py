"""What every bench shares: result rows, the running stack, and realistic articles.

A bench is a module with one ``BENCH = Bench(title, rows, run)``: ``rows`` declares the
rows it reports (name, unit, target) up front, so that when ``run`` raises, the runner can
still report each of them as failed with the reason instead of dropping them.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from syndication.config import Settings, load_settings
from syndication.embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "insightcrime.toml"


def progress(message: str) -> None:
    """One progress line on stderr, so stdout stays the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """``value <op> bound``: ``Target("<", 250, "ms")`` reads "< 250 ms"."""

    op: str
    bound: float
    unit: str

    def met(self, value: float) -> bool:
        ops: dict[str, Callable[[float, float], bool]] = {
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return ops[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g} {self.unit}"


@dataclass(frozen=True)
class Row:
    name: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_unit: str = ""
    target: Target | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """value / reference, in the row's own units (see each bench for what it means)."""
        if self.value is None or not self.reference:
            return None
        return self.value / self.reference

    @property
    def ok(self) -> bool:
        """Measured, and the target (if any) is met."""
        if self.error is not None or self.value is None:
            return False
        return self.target is None or self.target.met(self.value)

    def to_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "value": None if self.value is None else round(self.value, 3),
            "unit": self.unit,
            "reference": None if self.reference is None else round(self.reference, 3),
            "reference_unit": self.reference_unit,
            "ratio": None if ratio is None else round(ratio, 4),
            "target": None if self.target is None else str(self.target),
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True)
class RowSpec:
    """A row a bench promises to report: its name, units and target."""

    name: str
    unit: str
    reference_unit: str = ""
    target: Target | None = None

    def measured(self, value: float, reference: float | None = None) -> Row:
        return Row(self.name, value, self.unit, reference, self.reference_unit, self.target)

    def failed(self, reason: str) -> Row:
        return Row(self.name, None, self.unit, None, self.reference_unit, self.target, error=reason)


@dataclass(frozen=True)
class Bench:
    title: str
    rows: tuple[RowSpec, ...]
    run: Callable[[Stack], list[Row]]


# --- statistics -------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 200 samples is the 190th smallest)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> str:
    """``min/median/p95/p99/max`` of seconds, in ms, for progress lines."""
    parts = [
        ("min", min(values)),
        ("p50", percentile(values, 50)),
        ("p95", percentile(values, 95)),
        ("p99", percentile(values, 99)),
        ("max", max(values)),
    ]
    return " ".join(f"{k}={v * 1000:.1f}" for k, v in parts) + " ms"


# --- articles ---------------------------------------------------------------------------

_VOCABULARY = (
    "the police said cartel cocaine shipment port authorities investigation prosecutors "
    "government border trafficking networks security forces military operation arrested "
    "leader faction violence homicides region community rural coca crops eradication "
    "extortion gangs prison officials corruption money laundering gold mining illegal "
    "armed groups dissidents peace agreement negotiations criminal economy smuggling "
    "migrants routes president minister congress reform data analysis report sources "
    "according interviews local residents journalists evidence court trial sentence"
)
_WORDS = _VOCABULARY.split()
_AUTHORS = ("Sergio Saffón", "Chris Dalby", "Parker Asmann", "Victoria Dittmar", "Jeremy McDermott")
_TOPICS = ("Coca", "Cocaine", "Peru", "Colombia", "Mexico", "Extortion", "Illegal Mining")
_SECTIONS = ("Brief", "News", "Analysis", "Investigation")


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(10, 24))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _paragraph(rng: random.Random, n: int) -> str:
    sentences = [_sentence(rng) for _ in range(rng.randint(3, 6))]
    if rng.random() < 0.5:
        i = rng.randrange(len(sentences))
        sentences[i] = (
            f'<a href="https://insightcrime.org/news/analysis/related-{n}-{i}/">{sentences[i]}</a>'
        )
    if rng.random() < 0.3:
        sentences[0] = f"<strong>{sentences[0]}</strong>"
    return "<p>" + " ".join(sentences) + "</p>"


def body_html(rng: random.Random, n: int) -> str:
    """An article body of 5–8 KB: paragraphs, a subheading, links, sometimes a quote."""
    size = rng.randint(5_000, 8_000)
    parts: list[str] = []
    total = 0
    while total < size:
        if parts and rng.random() < 0.12:
            part = f"<h2>{_sentence(rng)[:60]}</h2>"
        elif parts and rng.random() < 0.08:
            part = f"<blockquote><p>{_sentence(rng)}</p></blockquote>"
        else:
            part = _paragraph(rng, n)
        parts.append(part)
        total += len(part)
    return "\n".join(parts)


def article_data(
    tag: str, n: int, published_at: datetime | None = None, seed: int = 0
) -> dict[str, Any]:
    """A distinct, valid article as ``POST /api/articles`` and the JSON import take it.

    ``id`` is given explicitly (``{tag}-{n:05d}``) so callers know what to look for.
    """
    rng = random.Random(f"{seed}-{tag}-{n}")
    when = published_at or datetime.now(UTC)
    article_id = f"{tag}-{n:05d}"
    title = " ".join(rng.choices(_WORDS, k=8)).capitalize()
    return {
        "id": article_id,
        "url": f"https://insightcrime.org/news/brief/{article_id}/",
        "title": f"{title} ({n})",
        "summary": _sentence(rng) + " " + _sentence(rng),
        "body_html": body_html(rng, n),
        "authors": rng.sample(_AUTHORS, k=rng.randint(1, 2)),
        "published_at": when.isoformat(),
        "language": "en",
        "section": rng.choice(_SECTIONS),
        "topics": rng.sample(_TOPICS, k=rng.randint(1, 3)),
    }


# --- the running stack ------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"the {self.name} exited with code {self.proc.returncode}:\n{self.tail()}"
            )

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass


@dataclass
class Stack:
    """Its own redis-server, a real Celery worker and the web app under uvicorn.

    Use as a context manager: everything started is stopped on the way out, error or not.
    """

    worker_concurrency: int = 2
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="synd-bench-")))
    redis: EmbeddedRedis | None = None
    worker: Child | None = None
    web: Child | None = None
    env: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    prefix: str = field(default_factory=lambda: f"bench{os.getpid()}-{secrets.token_hex(3)}:")
    keep_logs: bool = False  # set when a bench failed: its logs are the evidence
    extra_env: dict[str, str] = field(default_factory=dict)  # more settings (an SMTP URL …)
    serve_web: bool = True  # False: Redis and the worker only

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    @property
    def cli(self) -> list[str]:
        """How to run the ``syndication`` command: the venv's script, else ``-m``."""
        script = Path(sys.executable).parent / "syndication"
        if script.is_file():
            return [str(script)]
        return [sys.executable, "-m", "syndication.cli"]

    def _spawn(self, name: str, args: list[str]) -> Child:
        log = self.work_dir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "syndication.cli", *args],
                env={**os.environ, **self.env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Child(name, proc, log)

    def start(self) -> Stack:
        progress(f"starting redis-server (work dir {self.work_dir}) …")
        self.redis = EmbeddedRedis(self.work_dir / "redis").start()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {
            "SYNDICATION_REDIS_URL": self.redis.url,
            "SYNDICATION_CONFIG": str(CONFIG),
            "SYNDICATION_SECRET_KEY": secrets.token_urlsafe(32),
            "SYNDICATION_API_TOKEN": self.token,
            "SYNDICATION_PUBLIC_URL": self.base_url,
            "SYNDICATION_KEY_PREFIX": self.prefix,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        web = " and web app" if self.serve_web else ""
        progress(f"starting worker (concurrency {self.worker_concurrency}){web} …")
        self.worker = self._spawn(
            "worker",
            ["worker", "--loglevel", "INFO", "--concurrency", str(self.worker_concurrency)],
        )
        if self.serve_web:
            self.web = self._spawn("web", ["serve", "--host", "127.0.0.1", "--port", str(port)])
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        assert self.worker is not None
        deadline = time.monotonic() + timeout
        worker_ready, web_ready = False, self.web is None
        while not (worker_ready and web_ready):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not ready within {timeout:g}s (worker={worker_ready}, web={web_ready})\n"
                    f"worker log:\n{self.worker.tail()}\n"
                    f"web log:\n{self.web.tail() if self.web else '(none)'}"
                )
            self.check_alive()
            if not worker_ready:
                worker_ready = "ready." in self.worker.log.read_text(errors="replace")
            if not web_ready:
                with contextlib.suppress(httpx.HTTPError):
                    web_ready = (
                        httpx.get(f"{self.base_url}/healthz/web", timeout=1).status_code == 200
                    )
            time.sleep(0.1)
        progress("stack ready")

    def check_alive(self) -> None:
        for child in (self.worker, self.web):
            if child is not None:
                child.check_alive()

    def stop(self, keep: bool = False) -> None:
        for child in (self.web, self.worker):
            if child is not None:
                child.stop()
        if self.redis is not None:
            self.redis.stop(cleanup=False)
        # Logs are the evidence after a failure: kept then, or when BENCH_KEEP is set.
        if keep or self.keep_logs or os.environ.get("BENCH_KEEP"):
            progress(f"kept logs and Redis data in {self.work_dir}")
        else:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop(keep=True)
            raise

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop(keep=exc_type is not None)


def add_subscribers(client: Any, prefix: str, n: int) -> None:
    """``n`` confirmed daily readers (a mix of topics) through the store's bulk import."""
    from syndication.store.subscriber_bulk import SubscriberBulk
    from syndication.store.subscribers import CONFIRMED, Subscriber, SubscriberStore

    bulk = SubscriberBulk(SubscriberStore(client, prefix))
    now = datetime.now(UTC)
    topics: tuple[tuple[str, ...], ...] = ((), ("coca",), ("peru",), ("colombia", "mexico"))
    rows = [
        (
            Subscriber(
                id="",
                email=f"reader{i:06d}@bench.example.org",
                status=CONFIRMED,
                frequency="daily",
                topics=topics[i % len(topics)],
                language="en",
                created_at=now,
                confirmed_at=now,
                token_version=1,
            ),
            "",
        )
        for i in range(n)
    ]
    for start in range(0, n, 10_000):
        bulk.import_records(rows[start : start + 10_000])

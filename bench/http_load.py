"""Load generation and a reference server for HTTP benches: wrk, and nginx on a temp dir.

Everything here talks to 127.0.0.1 only and runs for a bounded time. ``ensure_tools``
installs nginx and wrk with apt when they are missing (``apt-get update`` only if the
plain install fails); ``Nginx`` is a context manager that serves one folder from a
throwaway config (its own port, pid, logs and temp paths) and always stops on the way out.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import progress
from syndication.embedded_redis import free_port

APT_TIMEOUT = 600


# --- tools ------------------------------------------------------------------------------


def _which(name: str) -> str | None:
    """PATH first, then the sbin folders a non-login root shell may not have on PATH."""
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *args],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT,
        check=False,
    )


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


def ensure_tools() -> tuple[str, str]:
    """Paths of (nginx, wrk), installing them with apt when missing; raises with the reason."""
    nginx, wrk = _which("nginx"), _which("wrk")
    if nginx and wrk:
        return nginx, wrk
    missing = [n for n, p in (("nginx", nginx), ("wrk", wrk)) if p is None]
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{' and '.join(missing)} not installed, and no apt-get to install")
    if os.geteuid() != 0:
        raise RuntimeError(f"{' and '.join(missing)} not installed, and not root to apt-get them")
    progress(f"installing {' and '.join(missing)} with apt-get …")
    attempts = (["nginx-light", "wrk"], ["nginx", "wrk"])
    reason = ""
    for refreshed in (False, True):
        if refreshed:
            done = _apt("update")
            if done.returncode != 0:
                reason = f"apt-get update failed: {_last_line(done)}"
                break
        for packages in attempts:
            done = _apt("install", "-y", "--no-install-recommends", *packages)
            if done.returncode == 0:
                break
            reason = f"apt-get install {' '.join(packages)} failed: {_last_line(done)}"
        nginx, wrk = _which("nginx"), _which("wrk")
        if nginx and wrk:
            return nginx, wrk
    raise RuntimeError(reason or "nginx/wrk still missing after apt-get install")


# --- wrk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rate: float  # requests/s as wrk reports it
    transfer_per_s: float  # bytes/s
    socket_errors: str  # "" when none
    p50_ms: float | None
    p99_ms: float | None

    def describe(self) -> str:
        lat = ""
        if self.p50_ms is not None and self.p99_ms is not None:
            lat = f", latency p50 {self.p50_ms:.2f} ms p99 {self.p99_ms:.2f} ms"
        errors = f", socket errors: {self.socket_errors}" if self.socket_errors else ""
        return (
            f"{self.rate:,.0f} req/s ({self.requests:,} in {self.seconds:.1f}s, "
            f"{self.transfer_per_s / 1e6:,.1f} MB/s{lat}){errors}"
        )


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_TIME = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(text)
    return float(m.group(1)) * _TIME[m.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The numbers out of ``wrk --latency`` output; raises when the run had HTTP errors."""
    total = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    transfer = re.search(r"Transfer/sec:\s+([0-9.]+)([KMG]?B)", output)
    if total is None or rate is None:
        raise RuntimeError(f"could not read wrk's output:\n{output.strip()}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad:
        raise RuntimeError(f"wrk saw {bad.group(1)} non-2xx/3xx responses")
    sock = re.search(r"Socket errors: (.*)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1e3,
        rate=float(rate.group(1)),
        transfer_per_s=(
            float(transfer.group(1)) * _UNITS[transfer.group(2)] if transfer is not None else 0.0
        ),
        socket_errors=sock.group(1).strip() if sock else "",
        p50_ms=_ms(p50.group(1)) if p50 else None,
        p99_ms=_ms(p99.group(1)) if p99 else None,
    )


def run_wrk(
    wrk: str,
    url: str,
    headers: dict[str, str],
    *,
    seconds: float,
    threads: int = 2,
    connections: int = 8,
) -> WrkResult:
    """One bounded wrk run against a loopback URL."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"load generation is for loopback only, not {url}")
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {_last_line(done)}")
    return parse_wrk(done.stdout)


# --- nginx ------------------------------------------------------------------------------

_CONFIG = """\
{user}worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    etag on;
    server_tokens off;
    types {{
        application/rss+xml rss;
        application/atom+xml atom;
        application/feed+json json;
    }}
    default_type application/octet-stream;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
{headers}
    }}
}}
"""


class Nginx:
    """nginx serving ``root`` on a free loopback port, all its state in a temp dir.

    ``headers`` are added to every response (``add_header``), so that its responses carry
    the same headers ours do and neither side is measured with less to send.
    """

    def __init__(
        self,
        nginx: str,
        root: Path,
        *,
        workers: int | str = "auto",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.nginx = nginx
        self.root = root
        self.workers = workers
        self.headers = headers or {}
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> str:
        def quoted(value: str) -> str:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

        add = "\n".join(
            f"        add_header {name} {quoted(value)};" for name, value in self.headers.items()
        )
        return _CONFIG.format(
            # As root, workers would drop to "nobody" and could not read a 0700 temp dir.
            user="user root;\n" if os.geteuid() == 0 else "",
            workers=self.workers,
            dir=self.dir,
            port=self.port,
            root=self.root,
            headers=add,
        )

    def start(self, timeout: float = 10.0) -> Nginx:
        conf = self.dir / "nginx.conf"
        conf.write_text(self._config())
        log = (self.dir / "stderr.log").open("wb")
        with log:
            self.proc = subprocess.Popen(
                [self.nginx, "-p", f"{self.dir}/", "-c", str(conf), "-e", f"{self.dir}/error.log"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with code {self.proc.returncode}: {self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.base_url + "/", timeout=1)
                return self  # any answer (even 403/404) means it listens
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not answer within {timeout:g}s: {self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            with contextlib.suppress(OSError):
                parts.append((self.dir / name).read_text(errors="replace").strip())
        text = "\n".join(p for p in parts if p)
        return text[-2000:] or "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # fast shutdown, master and workers
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Nginx:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

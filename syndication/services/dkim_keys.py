"""The DKIM keys from Settings (``SYNDICATION_DKIM_*``): an RSA key, an Ed25519 key, or both
(RFC 8463 §5 advises both until every receiver checks Ed25519). Digests and confirmation
emails are signed with the same keys.

Read and parsed when a service is made, so a missing, unreadable, malformed or too small
key stops a worker or ``digest send`` at start with one line naming the variable, instead
of failing every message of an edition later. A worker makes its services per task, and
OpenSSL's check of an RSA private key takes ~0.1 s: a parsed key is kept per process,
keyed by the file's contents, so a replaced file is read anew.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from syndication.config import ENV_PREFIX, ConfigError, Settings
from syndication.render.dkim import ED25519, RECOMMENDED_RSA_BITS, RSA, DkimKey, DkimKeyError

DKIM_KEY_VAR = f"{ENV_PREFIX}DKIM_KEY_FILE"
DKIM_ED25519_KEY_VAR = f"{ENV_PREFIX}DKIM_ED25519_KEY_FILE"
log = logging.getLogger(__name__)


def _key(var: str, selector: str, domain: str, path: Path, algorithm: str) -> DkimKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{var}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = _parsed(var, str(path), selector, domain, data)
    except DkimKeyError as exc:
        raise ConfigError(f"{var}: {path}: {exc}") from None
    if key.algorithm != algorithm:
        other = DKIM_ED25519_KEY_VAR if key.algorithm == ED25519 else DKIM_KEY_VAR
        raise ConfigError(f"{var}: {path} is a {key.algorithm} key: it goes in {other}")
    return key


@lru_cache(maxsize=8)
def _parsed(var: str, path: str, selector: str, domain: str, data: bytes) -> DkimKey:
    """Parsed once per process and contents (the warning too, not once per task)."""
    key = DkimKey(selector, domain, data)
    if key.algorithm == RSA and key.bits < RECOMMENDED_RSA_BITS:
        log.warning(
            "%s: %s is a %d-bit RSA key: some receivers treat it as weak; use %d bits",
            var,
            path,
            key.bits,
            RECOMMENDED_RSA_BITS,
        )
    return key


def load_dkim_keys(settings: Settings) -> tuple[DkimKey, ...]:
    """The configured keys, RSA first (its signature goes on top), or () when signing is off."""
    mail = settings.mail
    keys: list[DkimKey] = []
    for var, selector, path, algorithm in (
        (DKIM_KEY_VAR, mail.dkim_selector, mail.dkim_key_file, RSA),
        (DKIM_ED25519_KEY_VAR, mail.dkim_ed25519_selector, mail.dkim_ed25519_key_file, ED25519),
    ):
        if path is None:
            continue
        if not selector or not mail.dkim_domain:
            selector_var = var.replace("KEY_FILE", "SELECTOR")
            raise ConfigError(f"{var} needs {selector_var} and {ENV_PREFIX}DKIM_DOMAIN")
        keys.append(_key(var, selector, mail.dkim_domain, path, algorithm))
    return tuple(keys)

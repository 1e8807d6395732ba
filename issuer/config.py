"""Configuration: code defaults, then ``ISSUER_*`` environment variables, then a test mapping.

The defaults describe a production deployment. ``validate`` runs at start-up and refuses
to start, with one line that says what to set, when a production run would be unsafe.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from issuer import fetch
from issuer.errors import ConfigurationError, InvalidInput

log = logging.getLogger("issuer.config")

JWT_ALGORITHMS = ("RS256", "ES256")

DEFAULTS: dict[str, Any] = {
    "ENV": "production",
    "BASE_URL": None,
    # The service's earlier base URL when it moved on purpose (see issuer._refuse_a_silent_move).
    "BASE_URL_MOVED_FROM": "",
    "NAME": "Open Badges Issuer",
    "DATABASE_URL": None,
    "KEYS_DIR": "keys",
    "KEY_PASSPHRASE": None,
    "SECRET_KEY": None,
    "TEMPLATES_DIR": "badge_templates",
    "JWT_ALGORITHM": "RS256",
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_JSON_DEPTH": 32,
    "FETCH_ALLOW_HOSTS": "",
    "STATUS_LIST_SIZE": 131_072,
    "PROXY_HOPS": 0,
    "BULK_MAX_ROWS": 10_000,
    "BULK_MAX_BYTES": 10 * 1024 * 1024,
    # The public verifier (issuer/web/verify.py): requests a minute per client address, in
    # each worker process (0: no limit), and the work one request may ask for, in JSON
    # objects of the credentials it verifies (issuer/verification/budget.py).
    "VERIFY_RATE_PER_MINUTE": 120,
    "VERIFY_BUDGET_OBJECTS": 5_000,
    # Outgoing mail (issuer/mail.py). An empty host writes each message to instance/outbox/.
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "",
    "SMTP_STARTTLS": "true",
    # Wallet offers (issuer/wallet/) ask for a six-digit transaction code shown on the
    # earner's private page; "false" offers without one.
    "WALLET_TX_CODE": "true",
}

# Settings that are numbers; everything else stays a string exactly as the operator wrote it
# (Flask's default would turn a passphrase such as "1234" into an int).
_INTEGER_SETTINGS = (
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "STATUS_LIST_SIZE",
    "BULK_MAX_ROWS",
    "BULK_MAX_BYTES",
    "SMTP_PORT",
    "PROXY_HOPS",
    "VERIFY_RATE_PER_MINUTE",
    "VERIFY_BUDGET_OBJECTS",
)
# Settings that may be zero.
_MAY_BE_ZERO = ("PROXY_HOPS", "VERIFY_RATE_PER_MINUTE")

# The Bitstring Status List minimum: smaller lists would weaken herd privacy. Only a test
# run (TESTING true) may use smaller lists, of at least 8 entries, to fill them quickly.
MINIMUM_STATUS_LIST_SIZE = 131_072
MINIMUM_TEST_STATUS_LIST_SIZE = 8


def load(config: dict[str, Any], instance_path: str, overrides: dict[str, Any] | None) -> None:
    """Fill ``config`` from defaults, the environment and ``overrides``, in that order."""
    for name, value in DEFAULTS.items():
        config.setdefault(name, value)
    if config["DATABASE_URL"] is None:
        config["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'issuer.sqlite3'}"
    if config.get("OUTBOX_DIR") is None:
        config["OUTBOX_DIR"] = str(Path(instance_path) / "outbox")
    if overrides:
        config.update(overrides)
    if config.get("STATUS_ARCHIVE_DIR") is None:
        # Every signed status list version, outside the database (issuer/status_archive.py):
        # beside a SQLite file, else in the instance folder.
        database = str(config["DATABASE_URL"])
        folder = Path(instance_path)
        if database.startswith("sqlite:///") and ":memory:" not in database:
            folder = Path(database.removeprefix("sqlite:///").split("?")[0]).parent
        config["STATUS_ARCHIVE_DIR"] = str(folder / "status-archive")


def validate(config: dict[str, Any]) -> None:
    """Check the loaded settings.

    Raises ConfigurationError naming the setting to change when the service must not start.
    """
    env = config["ENV"]
    if env not in ("production", "development"):
        raise ConfigurationError("config_env", "ISSUER_ENV must be 'production' or 'development'.")
    for name in _INTEGER_SETTINGS:
        try:
            config[name] = int(config[name])
        except (TypeError, ValueError):
            raise ConfigurationError(
                "config_not_integer", f"ISSUER_{name} must be a whole number."
            ) from None
        if config[name] < 0 or (config[name] == 0 and name not in _MAY_BE_ZERO):
            raise ConfigurationError("config_not_positive", f"ISSUER_{name} must be positive.")
    development = env == "development"
    base_url = config["BASE_URL"]
    if not base_url:
        if not development:
            raise ConfigurationError(
                "config_base_url",
                "Set ISSUER_BASE_URL to the public https:// origin of this service.",
            )
        config["BASE_URL"] = base_url = "http://127.0.0.1:5000"
    config["BASE_URL"] = base_url = base_url.rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            "config_base_url",
            "ISSUER_BASE_URL must be an http(s) URL such as https://badges.example.org.",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(
            "config_base_url", "ISSUER_BASE_URL must not hold a query, fragment or user name."
        )
    if parts.scheme != "https" and not development:
        raise ConfigurationError(
            "config_base_url_https", "ISSUER_BASE_URL must use https:// in production."
        )
    if not config["SECRET_KEY"]:
        if not development:
            raise ConfigurationError(
                "config_secret_key", "Set ISSUER_SECRET_KEY to a long random string."
            )
        # A fresh random key per process: sign-ins do not survive a restart, which is fine in
        # development and means no well-known key can ever sign a session.
        config["SECRET_KEY"] = secrets.token_hex(32)
    if not config["KEY_PASSPHRASE"] and not development:
        raise ConfigurationError(
            "config_key_passphrase",
            "Set ISSUER_KEY_PASSPHRASE: private keys must be encrypted at rest in production.",
        )
    if config["JWT_ALGORITHM"] not in JWT_ALGORITHMS:
        raise ConfigurationError(
            "config_jwt_algorithm", "ISSUER_JWT_ALGORITHM must be RS256 or ES256."
        )
    _check_status_list_size(config)
    try:
        fetch.parse_allow_hosts(config["FETCH_ALLOW_HOSTS"])
    except InvalidInput as error:
        raise ConfigurationError("config_fetch_allow_hosts", error.message) from None
    if development:
        log.warning(
            "Running in DEVELOPMENT mode: plain-http base URL, unencrypted keys and a random "
            "per-process secret key are allowed. Never expose this instance."
        )


def _check_status_list_size(config: dict[str, Any]) -> None:
    size = config["STATUS_LIST_SIZE"]
    minimum = MINIMUM_TEST_STATUS_LIST_SIZE if config.get("TESTING") else MINIMUM_STATUS_LIST_SIZE
    if size < minimum or size % 8:
        raise ConfigurationError(
            "config_status_list_size",
            f"ISSUER_STATUS_LIST_SIZE must be a multiple of 8 and at least {minimum}.",
        )


def passphrase_bytes(config: dict[str, Any]) -> bytes | None:
    """The key passphrase as bytes, or None when there is none."""
    passphrase = config["KEY_PASSPHRASE"]
    return str(passphrase).encode("utf-8") if passphrase else None

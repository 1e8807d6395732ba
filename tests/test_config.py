"""Start-up refuses unsafe production settings with one line that says what to set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import request
from support import PASSPHRASE, TEMPLATES_DIR

from issuer import create_app
from issuer.errors import ConfigurationError


@pytest.fixture
def app_config(keys_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """Production settings on SQLite only: these tests are about start-up, not storage."""
    return {
        "ENV": "production",
        "BASE_URL": "https://badges.example.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.sqlite3'}",
        "KEYS_DIR": str(keys_dir),
        "KEY_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "test-secret-key",
        "TEMPLATES_DIR": str(TEMPLATES_DIR),
    }


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"BASE_URL": None}, "config_base_url"),
        ({"BASE_URL": "http://badges.example.test"}, "config_base_url_https"),
        ({"BASE_URL": "ftp://badges.example.test"}, "config_base_url"),
        ({"BASE_URL": "https://badges.example.test/?q=1"}, "config_base_url"),
        ({"SECRET_KEY": None}, "config_secret_key"),
        ({"KEY_PASSPHRASE": None}, "config_key_passphrase"),
        ({"JWT_ALGORITHM": "HS256"}, "config_jwt_algorithm"),
        ({"ENV": "staging"}, "config_env"),
        ({"MAX_BODY_BYTES": "lots"}, "config_not_integer"),
        ({"MAX_JSON_DEPTH": "0"}, "config_not_positive"),
    ],
)
def test_production_refuses_to_start_unsafely(
    app_config: dict[str, Any], changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        create_app({**app_config, **changes})
    assert raised.value.code == code
    assert "\n" not in raised.value.message


def test_settings_come_from_the_environment(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ISSUER_NAME", "Board of Examiners")
    monkeypatch.setenv("ISSUER_KEY_PASSPHRASE", "1234")
    monkeypatch.setenv("ISSUER_MAX_BODY_BYTES", "2048")
    config = {k: v for k, v in app_config.items() if k not in {"NAME", "KEY_PASSPHRASE"}}
    config["KEYS_DIR"] = str(tmp_path / "no-keys-yet")

    app = create_app(config)

    assert app.config["NAME"] == "Board of Examiners"
    assert app.config["KEY_PASSPHRASE"] == "1234"  # a string, never the number 1234
    assert app.config["MAX_BODY_BYTES"] == 2048


def test_development_relaxes_and_says_so(
    app_config: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = {
        **app_config,
        "ENV": "development",
        "BASE_URL": None,
        "SECRET_KEY": None,
        "KEY_PASSPHRASE": None,
        "KEYS_DIR": str(tmp_path / "no-keys-yet"),
    }
    app = create_app(config)

    assert app.config["BASE_URL"] == "http://127.0.0.1:5000"
    assert len(app.config["SECRET_KEY"]) >= 32
    assert "DEVELOPMENT mode" in caplog.text
    assert "run `issuer init`" in caplog.text


def test_a_wrong_passphrase_stops_start_up(app_config: dict[str, Any]) -> None:
    with pytest.raises(Exception) as raised:
        create_app({**app_config, "KEY_PASSPHRASE": "not the passphrase"})
    assert getattr(raised.value, "code", None) == "wrong_passphrase"


def test_behind_trusted_proxies_the_client_address_comes_from_their_header(
    app_config: dict[str, Any],
) -> None:
    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.7")):
        app = create_app({**app_config, "PROXY_HOPS": str(hops)})
        app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr or "")
        response = app.test_client().get(
            "/whoami",
            headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        assert response.text == expected
        app.extensions["issuer"].db.dispose()


def test_the_database_file_is_made_readable_by_its_owner_only(
    app_config: dict[str, Any], tmp_path: Path
) -> None:
    """It holds e-mail addresses and password hashes; a umask of 022 made it 0644."""
    app = create_app(app_config)
    services = app.extensions["issuer"]
    services.db.migrate()
    services.assessors.add("a@example.org", name="A", levels=[], all_levels=True, is_admin=False)
    files = sorted(tmp_path.glob("issuer.sqlite3*"))
    assert [path.name for path in files][:1] == ["issuer.sqlite3"]
    for path in files:  # with its -wal and -shm
        assert path.stat().st_mode & 0o777 == 0o600, path
    services.db.dispose()


def test_a_new_base_url_is_refused_while_credentials_of_the_old_identity_exist(
    app_config: dict[str, Any],
) -> None:
    """A changed ISSUER_BASE_URL made every status check of the old credentials fail
    (status_list_foreign) without a word; now start-up says so, until the operator says the
    move is meant."""
    app = create_app(app_config)
    services = app.extensions["issuer"]
    services.db.migrate()
    token = services.assessors.add(
        "a@example.org", name="A", levels=[], all_levels=True, is_admin=False
    ).token
    award = {
        "achievement": "computer-user-support-specialists/proficient",
        "recipient": {"email": "grace@example.org"},
    }
    response = app.test_client().post(
        "/api/v1/awards", json=award, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.json
    services.db.dispose()

    moved = {**app_config, "BASE_URL": "https://badges.example.org"}
    with pytest.raises(ConfigurationError) as refused:
        create_app(moved)
    assert refused.value.code == "config_base_url_changed"
    assert "did:web:badges.example.test" in refused.value.message
    assert "ISSUER_BASE_URL_MOVED_FROM" in refused.value.message
    accepted = create_app({**moved, "BASE_URL_MOVED_FROM": "https://badges.example.test"})
    accepted.extensions["issuer"].db.dispose()
    # The same URL as before starts as ever.
    create_app(app_config).extensions["issuer"].db.dispose()

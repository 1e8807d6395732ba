"""Operations, as an operator meets them: keys that went away, a read-only or old database,
a PostgreSQL server that never answers. Each gets an honest answer in bounded time."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from support import AWARD, PASSPHRASE

from issuer import create_app
from issuer.storage import MIGRATIONS_DIR, Database


def _cli(config: dict[str, Any], *args: str) -> Any:
    app = create_app(config)
    result = app.test_cli_runner().invoke(args=list(args))
    app.extensions["issuer"].db.dispose()
    return result


@pytest.fixture
def fresh_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ENV": "production",
        "BASE_URL": "https://badges.example.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.sqlite3'}",
        "KEYS_DIR": str(tmp_path / "keys"),
        "KEY_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "test-secret-key",
        "TEMPLATES_DIR": str(tmp_path / "badge_templates"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }


def test_init_refuses_new_keys_beside_credentials_of_lost_ones(
    fresh_config: dict[str, Any], tmp_path: Path
) -> None:
    assert _cli(fresh_config, "init").exit_code == 0
    assert _cli(fresh_config, "assessors", "add", "a@example.org", "--all").exit_code == 0
    awarded = _cli(
        fresh_config, "award", "--assessor", "a@example.org",
        "--achievement", AWARD["achievement"], "--email", "e@example.org",
    )  # fmt: skip
    assert awarded.exit_code == 0, awarded.output
    shutil.move(fresh_config["KEYS_DIR"], tmp_path / "keys-elsewhere")

    again = _cli(fresh_config, "init")

    assert again.exit_code == 1
    assert "keys_missing_for_credentials" in again.output and "issuer restore" in again.output
    assert not list(Path(fresh_config["KEYS_DIR"]).glob("*.pem"))


def _ready(app: Flask) -> tuple[int, dict[str, str]]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.json["checks"]


@pytest.fixture
def own_keys(keys_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "own-keys"
    shutil.copytree(keys_dir, copy)
    return copy


def test_not_ready_once_the_keys_directory_is_gone(
    app_config: dict[str, Any], own_keys: Path
) -> None:
    app = create_app({**app_config, "KEYS_DIR": str(own_keys)})
    app.extensions["issuer"].db.migrate()
    assert _ready(app) == (200, {key: "ok" for key in _ready(app)[1]})

    shutil.rmtree(own_keys)

    status, checks = _ready(app)
    assert status == 503 and checks["keys"] == "key_missing"


def test_a_read_only_database_is_reported_and_still_serves_its_status_lists(
    app: Flask, client: Any, assessor_token: str, app_config: dict[str, Any]
) -> None:
    response = client.post(
        "/api/v1/awards", headers={"Authorization": f"Bearer {assessor_token}"}, json=AWARD
    )
    assert response.status_code == 201
    app.extensions["issuer"].db.dispose()
    path = app_config["DATABASE_URL"].removeprefix("sqlite:///")
    read_only = create_app(
        {**app_config, "DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true"}
    )
    reader = read_only.test_client()

    status, checks = _ready(read_only)
    assert status == 503 and checks["database"] == "read_only"
    # The list was never signed: serving it needs no write.
    listed = reader.get("/status/1")
    assert listed.status_code == 200, listed.json
    assert listed.json["credentialSubject"]["encodedList"]
    refused = reader.post(
        "/api/v1/awards", headers={"Authorization": f"Bearer {assessor_token}"}, json=AWARD
    )
    assert refused.status_code == 503
    assert refused.json["code"] == "database_unavailable"
    assert refused.headers["Retry-After"] == "5"
    read_only.extensions["issuer"].db.dispose()


def test_an_old_schema_is_reported(app_config: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    database = Database(url)
    with database.engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    database.dispose()
    app = create_app({**app_config, "DATABASE_URL": url})

    status, checks = _ready(app)

    assert status == 503 and checks["schema"].startswith("schema_outdated:0004<")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung PostgreSQL)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_postgresql_that_never_answers_gives_503_in_bounded_time(
    app_config: dict[str, Any], silent_server: int
) -> None:
    url = f"postgresql+psycopg://issuer@127.0.0.1:{silent_server}/issuer"
    app = create_app({**app_config, "DATABASE_URL": url})

    started = time.monotonic()
    status, checks = _ready(app)
    assert status == 503 and checks["database"] == "unavailable"
    assert time.monotonic() - started < 4

    started = time.monotonic()
    response = app.test_client().get(f"/credentials/{uuid.uuid4()}.json")
    assert response.status_code == 503 and response.json["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert time.monotonic() - started < 12

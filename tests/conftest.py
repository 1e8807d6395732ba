"""The fixture pyramid: keys (once) → database → app → client / runner.

Every test runs on a real SQLite file; the tests whose subject is storage (marked
``storage``: idempotency, allocation, concurrency, jobs, throttling, the outbox) run again on
PostgreSQL when ``ISSUER_TEST_DATABASE_URL`` names one (CI always does).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from oracles import official_schema_errors, openbadgeslib_verify
from sqlalchemy import create_engine, select, text
from support import AWARD, BASE_URL, PASSPHRASE, SHARED, TEMPLATES_DIR, free_port
from werkzeug.serving import make_server

from issuer import create_app, keyring
from issuer.storage import Database
from issuer.storage.models import IssuedCredential

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One encrypted key set for the whole run (RSA 3072 generation takes a second)."""
    directory = tmp_path_factory.mktemp("keys")
    os.chmod(directory, 0o700)
    keyring.generate_missing(directory, PASSPHRASE.encode())
    return directory


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test runs on SQLite; tests marked ``storage`` run on PostgreSQL too."""
    if "database_url" in metafunc.fixturenames:
        backends = ["sqlite"]
        if metafunc.definition.get_closest_marker("storage") is not None:
            backends.append("postgresql")
        metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once; each test gets a copy (migrating takes ~0.15 s)."""
    path = tmp_path_factory.mktemp("template") / "issuer.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()  # the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        shutil.copyfile(migrated_sqlite, tmp_path / "issuer.sqlite3")
        yield f"sqlite:///{tmp_path / 'issuer.sqlite3'}"
        return
    server = os.environ.get("ISSUER_TEST_DATABASE_URL")
    if not server:
        pytest.skip("ISSUER_TEST_DATABASE_URL is not set: PostgreSQL runs only where it is")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server else "?"
    yield f"{server}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def app_config(database_url: str, keys_dir: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "ENV": "production",
        "BASE_URL": BASE_URL,
        "NAME": "Example Training Board",
        "DATABASE_URL": database_url,
        "KEYS_DIR": str(keys_dir),
        "KEY_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "test-secret-key",
        "TEMPLATES_DIR": str(TEMPLATES_DIR),
        "TESTING": True,
        # Award e-mails go to .eml files here (no SMTP host), never into the repo's instance/.
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "STATUS_ARCHIVE_DIR": str(tmp_path / "status-archive"),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    services = app.extensions["issuer"]
    services.db.migrate()
    yield app
    if SHARED.exists():
        _every_stored_credential_passes_the_independent_judges(app)
    services.db.dispose()


def _every_stored_credential_passes_the_independent_judges(app: Flask) -> None:
    """Whatever a test issued, by any path, the official OB 3.0 schema accepts, and
    openbadgeslib verifies in both forms with the keys our did:web document publishes."""
    services = app.extensions["issuer"]
    with services.db.read() as session:
        stored = session.execute(
            select(IssuedCredential.credential_json, IssuedCredential.jwt)
        ).all()
    client = app.test_client()
    for document, token in stored:
        credential = json.loads(document)
        if credential == {}:
            continue  # a row that an allocation test stored without issuing a credential
        errors = official_schema_errors(credential)
        assert errors == [], f"{credential.get('id')}: {errors}"
        openbadgeslib_verify(client, credential, token)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def _buffered(app: Flask) -> WSGIApplication:
    """The app with each response body read whole (and closed) before it is sent.

    Werkzeug's development server skips closing a streamed body when the client hangs up
    mid-response (a browser that leaves a page before its stylesheet arrives), so the file
    behind a static response would be left open and fail the run as a ResourceWarning.
    """

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app behind a real threaded HTTP server on a free loopback port; yields its URL."""
    server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def smtp_port() -> int:
    """A free port for a test mail server (``support.smtp_server``)."""
    return free_port()


@pytest.fixture
def smtp_app(app_config: dict[str, Any], smtp_port: int) -> Iterator[Flask]:
    """The app sending its mail by SMTP to ``smtp_port`` (no server there unless started)."""
    app = create_app(
        {
            **app_config,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_STARTTLS": "false",
            "SMTP_FROM": "Badges <badges@example.test>",
        }
    )
    services = app.extensions["issuer"]
    services.db.migrate()
    yield app
    services.db.dispose()


@pytest.fixture
def issued(client: FlaskClient, assessor_token: str) -> dict[str, Any]:
    """The API's answer to the award ``support.AWARD``: id, credential, jwt, links."""
    response = client.post(
        "/api/v1/awards", headers={"Authorization": f"Bearer {assessor_token}"}, json=AWARD
    )
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


@pytest.fixture
def assessor_token(app: Flask) -> str:
    """An API token of an assessor who may award every level."""
    created = app.extensions["issuer"].assessors.add(
        "assessor@example.org", name="Ada Assessor", levels=[], all_levels=True, is_admin=False
    )
    return created.token

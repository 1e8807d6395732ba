"""What every benchmark starts from: a fresh service with real keys, a database, an assessor."""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text

from issuer import create_app, keyring
from issuer.assessors import Principal
from issuer.services import Services

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench passphrase"


@dataclass(frozen=True)
class Bench:
    app: Flask
    services: Services
    token: str
    assessor: Principal
    workdir: Path


def report(figure: str, measured: str, ratio: str, target: str = "") -> None:
    """Add a headline figure to the table ``run_all.py`` prints (the file ``$BENCH_REPORT``
    names, one JSON object per line); a script run alone only prints its own lines."""
    path = os.environ.get("BENCH_REPORT")
    if not path:
        return
    line = {"figure": figure, "measured": measured, "ratio": ratio, "target": target}
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def per_call(function: Callable[[], object], count: int) -> float:
    """Seconds per call of ``function``, over ``count`` calls."""
    began = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - began) / count


def bare_sqlite_commit(workdir: Path, count: int) -> float:
    """Seconds per durable SQLite commit of one small row (WAL, ``synchronous=FULL``, each
    in ``BEGIN IMMEDIATE``, as the service writes): the floor under any award."""
    connection = sqlite3.connect(workdir / "bare-commit.sqlite3", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")

    def commit() -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO rows (body) VALUES (?)", ("x" * 200,))
        connection.execute("COMMIT")

    try:
        return per_call(commit, count)
    finally:
        connection.close()


def pin_to_one_core() -> None:
    """Measure one core's throughput, whatever else the machine runs."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def own_schema(server_url: str) -> str:
    """A PostgreSQL URL whose tables live in a new schema, dropped when the benchmark ends."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(server_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    atexit.register(drop)
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options=-csearch_path%3D{schema}"


def start_service(prefix: str, *, database_url: str | None = None, **settings: Any) -> Bench:
    """A migrated service in a new temporary folder, and an admin assessor with a token.

    ``database_url`` names a PostgreSQL server to use (in a schema of its own); by default
    the service runs on a fresh SQLite file.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"issuer-bench-{prefix}-"))
    if database_url:
        database_url = own_schema(database_url)
    keyring.generate_missing(workdir / "keys", PASSPHRASE.encode())
    app = create_app(
        {
            "ENV": "production",
            "BASE_URL": "https://badges.example.test",
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "KEYS_DIR": str(workdir / "keys"),
            "KEY_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "bench",
            "TEMPLATES_DIR": str(ROOT / "badge_templates"),
            "OUTBOX_DIR": str(workdir / "outbox"),
            **settings,
        }
    )
    services: Services = app.extensions["issuer"]
    services.db.migrate()
    created = services.assessors.add(
        f"bench-{uuid.uuid4().hex[:8]}@example.org",
        name="Bench",
        levels=[],
        all_levels=True,
        is_admin=True,
    )
    return Bench(app, services, created.token, created.principal, workdir)

"""An Open Badges 3.0 issuer: one verifiable badge per competency-framework level."""

from __future__ import annotations

import logging
import os
from typing import Any

import click
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: load and validate config, build the services once, wire the web.

    Raises ConfigurationError (and TemplateError / KeyringError) when it must not start.
    """
    from issuer import cli, config, web
    from issuer.services import Services

    app = Flask(__name__, instance_relative_config=True)
    # Keep every value a string as the operator wrote it; config.validate converts numbers.
    app.config.from_prefixed_env("ISSUER", loads=str)
    config.load(app.config, app.instance_path, test_config)
    _configure_logging()
    config.validate(app.config)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)  # the database, the outbox
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config["SESSION_COOKIE_SECURE"] = app.config["ENV"] != "development"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config["PROXY_HOPS"]:
        # Behind N trusted proxies, the client address and scheme come from their headers;
        # sign-in throttling and the audit log need the real client address.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions["issuer"] = services = Services.build(app.config)
    _refuse_a_silent_move(app.config, services)
    web.init_app(app)
    cli.init_app(app)
    if _built_by_the_development_server():
        start_background_work(app)
    return app


def start_background_work(app: Flask) -> None:
    """Start the work this process does without a request: delivering the outbox (a backlog
    left by a restart, then each new message and the retries) and running bulk jobs (a job
    a stopped process left unfinished, once its lease runs out). Safe to call again.

    Call it in each process that serves, once that process is the one that serves: a
    thread started before a fork does not exist in the forked child. gunicorn.conf.py calls
    it in every worker after the fork (``post_worker_init``), with ``--preload`` or
    without, and ``issuer run`` when it builds the app; a command (``issuer mail send``)
    does its work in the foreground and ends, so it starts none. Each part stops at exit
    between two messages or batches.
    """
    services = app.extensions["issuer"]
    # Database connections made before a fork (the arbiter builds the app with --preload)
    # would be shared by every worker: let them go unclosed, so this process opens its own.
    services.db.engine.dispose(close=False)
    services.mail.outbox.start()
    app.extensions["assess"].runner.start()


def _refuse_a_silent_move(settings: Any, services: Any) -> None:
    """Refuse to start under a new base URL while credentials of the old identity exist,
    unless ``ISSUER_BASE_URL_MOVED_FROM`` says the move is meant: their DID and status
    lists live at the old URL, so every status check of theirs would fail."""
    from issuer.did import did_web_from_base_url
    from issuer.errors import ConfigurationError
    from issuer.issuance import other_issuer_identity

    old = other_issuer_identity(services.db, services.issuer_profile.id)
    moved_from = settings.get("BASE_URL_MOVED_FROM")
    if old is None or (moved_from and did_web_from_base_url(moved_from) == old):
        return
    services.db.dispose()
    raise ConfigurationError(
        "config_base_url_changed",
        f"The database holds credentials issued as {old}, not as "
        f"{services.issuer_profile.id}: under a new ISSUER_BASE_URL their DID document and "
        "status lists are no longer served, so their revocation checks fail. Set "
        "ISSUER_BASE_URL back, or, to move on purpose (the old address keeps serving or "
        "redirecting them), set ISSUER_BASE_URL_MOVED_FROM to the old base URL.",
    )


def _built_by_the_development_server() -> bool:
    """Whether ``issuer run`` (Flask's development server, which serves the app in the
    process that builds it) is building the app; other commands only load it."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name == "run"


def _configure_logging() -> None:
    # Under gunicorn or a test runner a handler already exists; add ours only when alone.
    logger = logging.getLogger("issuer")
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)

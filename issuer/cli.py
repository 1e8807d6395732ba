"""The ``issuer`` command: a Flask CLI group (``issuer run`` serves in development)."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from issuer import backup as backup_module
from issuer import config as issuer_config
from issuer import create_app, keyring
from issuer.did import PublicKeyObject, key_fragment
from issuer.errors import IssuerError, KeyringError
from issuer.frameworks import import_framework, load_templates
from issuer.key_publication import PUBLICATION_SECONDS
from issuer.services import Services
from issuer.status_archive import StatusArchive

# Who the audit log names for what the operator does from the command line.
CLI_ACTOR = "cli"
BUNDLED_FRAMEWORKS = Path(__file__).resolve().parent.parent / "frameworks"


def _services() -> Services:
    return current_app.extensions["issuer"]


def _fail(error: IssuerError) -> NoReturn:
    click.echo(f"error: {error.code}: {error.message}", err=True)
    sys.exit(1)


def _create_app_or_exit() -> Flask:
    """The app, or one line saying what to fix when it must not start."""
    try:
        return create_app()
    except IssuerError as error:
        _fail(error)
        raise  # unreachable: _fail exits


@click.group(cls=FlaskGroup, create_app=_create_app_or_exit, add_version_option=False)
def main() -> None:
    """Open Badges 3.0 issuer."""


def init_app(app: Flask) -> None:
    """Attach the commands to the app, where FlaskGroup (and the test runner) find them."""
    for command in (
        init,
        frameworks,
        templates,
        assessors,
        award,
        revoke,
        verify,
        keys,
        mail,
        backup,
        restore,
    ):
        app.cli.add_command(command)


@click.command()
@with_appcontext
def init() -> None:
    """Create the database, generate keys if there are none, import the bundled framework.

    Safe to run again: it changes nothing that already exists.
    """
    services = _services()
    try:
        services.db.migrate()
        click.echo(f"Database ready: {services.db.engine.url.render_as_string(hide_password=True)}")
        _refuse_to_replace_keys(services)
        created = keyring.generate_missing(
            services.keyring.keys_dir, issuer_config.passphrase_bytes(current_app.config)
        )
        for key in created:
            click.echo(f"Generated key: {key.describe()}")
        services.keyring.reset()
        services.keys.record(services.keyring().public_keys())
        catalog = services.catalog
        if not len(catalog):
            for path in sorted(BUNDLED_FRAMEWORKS.glob("*.json")):
                written = import_framework(path, services.templates_dir)
                click.echo(f"Imported {path.name}: {len(written)} files")
            catalog = load_templates(services.templates_dir)
    except IssuerError as error:
        _fail(error)
    click.echo(f"Issuer {services.issuer_profile.id} is ready with {len(catalog)} badges.")


def _refuse_to_replace_keys(services: Services) -> None:
    """New keys beside credentials signed by keys that are gone would leave those
    credentials unverifiable for good. Raises KeyringError ``keys_missing_for_credentials``."""
    services.keyring.reset()
    try:
        services.keyring()
        return
    except KeyringError as error:
        if error.code != "key_missing" or not backup_module.credentials_exist(services.db):
            return
    raise KeyringError(
        "keys_missing_for_credentials",
        f"The database holds credentials signed by keys that are not in "
        f"{services.keyring.keys_dir}; new keys would leave them unverifiable. Restore the "
        "keys: `issuer restore BACKUP` (or copy the backup's keys/ folder back), or set "
        "ISSUER_KEYS_DIR to where they are. Nothing was generated.",
    )


@click.group()
def frameworks() -> None:
    """Competency frameworks."""


@frameworks.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(file: Path) -> None:
    """Turn FILE into one badge template per level under the templates directory."""
    try:
        written = import_framework(file, _services().templates_dir)
    except IssuerError as error:
        _fail(error)
    for path in written:
        click.echo(f"wrote {path}")


@click.group()
def templates() -> None:
    """Badge templates."""


@templates.command("check")
@with_appcontext
def check_templates() -> None:
    """Validate every badge template against its schema."""
    try:
        catalog = load_templates(_services().templates_dir)
    except IssuerError as error:
        _fail(error)
    click.echo(f"{len(catalog)} templates are valid.")


@click.group()
def assessors() -> None:
    """Assessor accounts."""


@assessors.command("add")
@click.argument("email")
@click.option("--name", help="Display name.")
@click.option("--levels", default="", help="Comma-separated <framework>/<level> list.")
@click.option("--all", "all_levels", is_flag=True, help="May award every level.")
@click.option("--admin", is_flag=True, help="Administrator (may do everything).")
@with_appcontext
def add_assessor(email: str, name: str | None, levels: str, all_levels: bool, admin: bool) -> None:
    """Create an assessor; prints a one-time password and an API token (the last line)."""
    services = _services()
    chosen = [level.strip() for level in levels.split(",") if level.strip()]
    try:
        for achievement in chosen:
            framework, _, level = achievement.partition("/")
            services.catalog.get(framework, level)
        created = services.assessors.add(
            email, name=name, levels=chosen, all_levels=all_levels, is_admin=admin
        )
        services.audit.record(
            CLI_ACTOR,
            "account.created",
            created.principal.email,
            address=None,
            details={"levels": chosen, "allLevels": all_levels, "admin": admin, "via": "cli"},
        )
    except IssuerError as error:
        _fail(error)
    principal = created.principal
    scope = (
        "admin"
        if principal.is_admin
        else "all levels"
        if principal.all_levels
        else (", ".join(sorted(principal.levels)) or "no levels yet")
    )
    click.echo(f"Assessor {principal.email} ({scope})")
    click.echo(f"One-time password: {created.password}")
    click.echo("(it signs in once, within 3 days; a new password is chosen then)")
    click.echo("API token (shown once):")
    click.echo(created.token)


@click.command()
@click.option(
    "--assessor", "assessor_email", required=True, help="E-mail of the awarding assessor."
)
@click.option("--achievement", required=True, help="<framework>/<level>")
@click.option("--email", required=True, help="The earner's e-mail address.")
@click.option("--name", help="The earner's name.")
@click.option("--statements", help="Comma-separated 0-based statement indexes (default: all).")
@click.option("--valid-until", help="Expiry, e.g. 2030-01-31T00:00:00Z.")
@with_appcontext
def award(
    assessor_email: str,
    achievement: str,
    email: str,
    name: str | None,
    statements: str | None,
    valid_until: str | None,
) -> None:
    """Award a level badge and e-mail the earner; prints the credential's id and page."""
    services = _services()
    services.mail.outbox.deliver_in_foreground()
    request: dict[str, object] = {"achievement": achievement, "recipient": {"email": email}}
    if name:
        request["recipient"] = {"email": email, "name": name}
    try:
        if statements:
            request["statements"] = [int(part) for part in statements.split(",")]
        if valid_until:
            request["validUntil"] = valid_until
        assessor = services.assessors.by_email(assessor_email)
        issued = services.award(
            assessor,
            request,
            actor=CLI_ACTOR,
            address=None,
            details={"assessor": assessor.email, "via": "cli"},
        )
    except ValueError:
        click.echo("error: statements must be whole numbers separated by commas", err=True)
        sys.exit(2)
    except IssuerError as error:
        _fail(error)
    click.echo(
        json.dumps({"id": issued.id, "page": f"{services.base_url}/credentials/{issued.id}"})
    )


@click.command()
@click.argument("credential_id")
@click.option("--reason", required=True, help="Why it is revoked (shown to the earner).")
@with_appcontext
def revoke(credential_id: str, reason: str) -> None:
    """Revoke a credential, permanently, as the operator (recorded as "cli")."""
    try:
        revoked = _services().revoke(
            credential_id, reason, by=None, actor=CLI_ACTOR, address=None, details={"via": "cli"}
        )
    except IssuerError as error:
        _fail(error)
    click.echo(json.dumps(revoked.as_json()))


@click.group()
def keys() -> None:
    """The issuer's signing keys."""


@keys.command("list")
@with_appcontext
def list_keys() -> None:
    """Every key that ever signed (never key material)."""
    try:
        for line in _services().keyring().describe():
            click.echo(line)
    except IssuerError as error:
        _fail(error)


@keys.command("rotate")
@click.argument("alg", type=click.Choice(keyring.ALGORITHMS))
@with_appcontext
def rotate_key(alg: str) -> None:
    """Make a new active key for ALG; the old one stays published (public half only).

    The new key is published to every host (through the database) before it becomes active;
    running workers that share this keys directory sign with it from their next request,
    without a restart.
    """
    services = _services()

    def publish(alg: str, public_key: PublicKeyObject, created: datetime) -> None:
        fragment = key_fragment(public_key)
        kid = f"{services.issuer_profile.id}#{fragment}"
        new_key = keyring.PublicKey(kid, alg, public_key, keyring.ACTIVE, created, fragment)
        services.keys.record([new_key])
        click.echo(f"Published {kid}; waiting {PUBLICATION_SECONDS:g} s for every host to see it")
        time.sleep(PUBLICATION_SECONDS)

    try:
        created = keyring.rotate(
            services.keyring.keys_dir,
            issuer_config.passphrase_bytes(current_app.config),
            alg,
            publish=publish,
        )
        services.keys.record(_fresh_keyring().public_keys())
    except IssuerError as error:
        _fail(error)
    click.echo(
        f"New key: {created.describe()}. Workers using {services.keyring.keys_dir} sign with it "
        "now; on every other host, copy this keys directory there (until then its /readyz "
        "reports signing_key_retired)."
    )


def _backup_target() -> backup_module.Target:
    services = _services()
    return backup_module.Target(
        keys_dir=services.keyring.keys_dir,
        templates_dir=services.templates_dir,
        issuer_id=services.issuer_profile.id,
        allow_unencrypted_keys=current_app.config["ENV"] == "development",
    )


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@with_appcontext
def backup(dest: Path) -> None:
    """Write a consistent backup folder DEST while the service runs (never overwrites):
    the database, the keys (encrypted), the templates and a manifest with checksums."""
    try:
        report = backup_module.take_backup(_services().db, dest, _backup_target())
    except IssuerError as error:
        _fail(error)
    counts = ", ".join(f"{value} {name}" for name, value in report.counts.items())
    click.echo(f"Backup written to {report.path}")
    click.echo(f"  taken at {report.created_at:%Y-%m-%dT%H:%M:%SZ}, schema {report.schema_version}")
    click.echo(f"  {counts}")
    click.echo(f"  {len(report.files)} files, each with its SHA-256 in manifest.json")
    if report.unencrypted_keys:
        click.echo("  warning: the private keys in it are NOT encrypted (development keys)")


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--status-archive",
    "extra_archives",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Another host's status archive folder to OR back in (repeatable).",
)
@with_appcontext
def restore(src: Path, extra_archives: tuple[Path, ...]) -> None:
    """Restore backup folder SRC (stop every worker first). Every status list is sealed
    and every revocation ever published is kept; prints what may be missing."""
    services = _services()
    archives = [StatusArchive(Path(current_app.config["STATUS_ARCHIVE_DIR"]))]
    archives += [StatusArchive(path) for path in extra_archives]
    try:
        report = backup_module.restore_backup(
            services.db,
            src,
            _backup_target(),
            archives,
            load_keyring=_fresh_keyring,
            list_url=services.revocation.allocator.list_url,
            list_size=services.revocation.allocator.list_size,
        )
    except IssuerError as error:
        _fail(error)
    click.echo(f"Restored {src} (taken {report.backup_created_at:%Y-%m-%dT%H:%M:%SZ}).")
    click.echo(f"  keys: {report.keys}; templates: {report.templates}")
    click.echo(
        f"  sealed status lists: {', '.join(map(str, report.sealed_lists)) or 'none open'};"
        f" new lists start at {report.new_lists_from}"
    )
    click.echo(
        f"  from the status archive: {report.bits_from_archive} revoked entries kept "
        f"({report.revocations_from_archive} restored credentials marked revoked), "
        f"{len(report.lists_from_archive)} list(s) opened after the backup recreated"
    )
    for note in report.notes:
        click.echo(f"  may be missing: {note}")
    click.echo("Recorded in the audit log (restore.completed). Start the service again.")


def _fresh_keyring() -> keyring.Keyring:
    services = _services()
    services.keyring.reset()
    return services.keyring()


@click.group()
def mail() -> None:
    """The outgoing-mail outbox."""


@mail.command("pending")
@with_appcontext
def mail_pending() -> None:
    """Messages not sent yet: to whom, how many tries, the next one, the last error."""
    waiting = _services().mail.outbox.pending()
    for message in waiting:
        upcoming = message.next_attempt_at
        when = f"next try {upcoming:%Y-%m-%d %H:%M}Z" if upcoming else "given up"
        click.echo(
            f"{message.id}\t{message.recipient}\tcredential {message.credential_id}\t"
            f"{message.attempts} tries, {when}\t{message.last_error or ''}"
        )
    click.echo(f"{len(waiting)} message(s) not sent.")


@mail.command("send")
@with_appcontext
def mail_send() -> None:
    """Deliver now every message that is due (what the service's delivery thread does)."""
    sent = _services().mail.outbox.deliver_due()
    click.echo(f"{sent} message(s) sent.")


@click.command()
@click.argument("source")
@click.option("--email", help="The earner's e-mail address, to compare with the badge's.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def verify(source: str, email: str | None, as_json: bool) -> None:
    """Verify a credential: SOURCE is a file (PNG, SVG, JSON, VC-JWT) or an https URL.

    Exits 0 when verified, 1 when not, 2 when SOURCE cannot be read at all.
    """
    from issuer.verification import build_for

    service = build_for(_services(), current_app.config)
    try:
        if source.startswith(("https://", "http://")):
            report = service.verify_url(source, recipient=email)
        else:
            report = service.verify_bytes(Path(source).read_bytes(), recipient=email)
    except OSError as error:
        click.echo(f"error: cannot read {source}: {error.strerror}", err=True)
        sys.exit(2)
    except IssuerError as error:
        click.echo(f"error: {error.code}: {error.message}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        summary = report.credential or {}
        issuer = summary.get("issuer") or {}
        achievement = summary.get("achievement") or {}
        click.echo("VERIFIED" if report.verified else "NOT VERIFIED")
        if report.issuer_identity is not None:
            click.echo(f"  signed by: {report.issuer_identity.describe()}")
        named = f"{issuer.get('name') or '-'} ({issuer.get('id') or '-'})"
        click.echo(f"  issuer (as it names itself): {named}")
        click.echo(f"  achievement: {achievement.get('name') or summary.get('name') or '-'}")
        click.echo(f"  valid from: {summary.get('validFrom') or '-'}")
        for outcome in report.checks:
            click.echo(f"  [{outcome.status}] {outcome.check}: {outcome.message} ({outcome.code})")
    sys.exit(0 if report.verified else 1)

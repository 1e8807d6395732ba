"""The domain services, built once per process from the validated configuration."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issuer import config as issuer_config
from issuer import did
from issuer import keyring as keyring_module
from issuer.assessors import AssessorService, Principal
from issuer.audit import AuditLog
from issuer.award_pipeline import AwardPipeline
from issuer.awarding import OB_V3_CONTEXT, VC_V2_CONTEXT, IssuerProfile, build_achievement
from issuer.earner import EarnerService, SettingsLinks
from issuer.errors import IssuerError, KeyringError, Unavailable
from issuer.frameworks import Template, TemplateCatalog, load_templates
from issuer.issuance import IssuanceService
from issuer.keyring import Keyring
from issuer.mail import MailService, MailSettings, Outbox, transport_for
from issuer.revocation import (
    BulkRevocation,
    RevocationHook,
    RevocationService,
    RevokedCredential,
    StatusAllocator,
)
from issuer.status_archive import StatusArchive
from issuer.storage import UNAVAILABLE_ERRORS, Database, Session
from issuer.wallet.service import WalletService

log = logging.getLogger("issuer")


@dataclass
class KeyringSlot:
    """Loads the keyring on first use, so that ``issuer init`` can run before keys exist."""

    keys_dir: Path
    passphrase: bytes | None
    controller: str
    allow_unencrypted: bool
    _keyring: Keyring | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> Keyring:
        """The keyring. Raises KeyringError when the keys cannot be loaded."""
        if self._keyring is None:
            with self._lock:
                if self._keyring is None:
                    self._keyring = Keyring.load(
                        self.keys_dir,
                        self.passphrase,
                        controller=self.controller,
                        allow_unencrypted=self.allow_unencrypted,
                    )
                    for line in self._keyring.describe():
                        log.info("Key loaded: %s", line)
        return self._keyring

    def reset(self) -> None:
        with self._lock:
            self._keyring = None


@dataclass
class Services:
    db: Database
    catalog: TemplateCatalog
    keyring: KeyringSlot
    issuer_profile: IssuerProfile
    base_url: str
    assessors: AssessorService
    issuance: IssuanceService
    revocation: RevocationService
    templates_dir: Path
    earner: EarnerService
    mail: MailService
    audit: AuditLog
    wallet: WalletService
    # ``award(principal, request, key, actor=…, address=…, details=…)``: one award with its
    # audit record and e-mail; bulk jobs use its parts (``issuer.award_pipeline``).
    award: AwardPipeline
    _restore_seen_complete: bool = False

    @classmethod
    def build(cls, config: dict[str, Any]) -> Services:
        """Build every service from validated ``config``.

        Raises TemplateError when a badge template is broken, and KeyringError when keys
        exist but cannot be used (wrong passphrase, unsafe file mode, ...).
        """
        base_url = config["BASE_URL"]
        issuer_did = did.did_web_from_base_url(base_url)
        db = Database(config["DATABASE_URL"])
        templates_dir = Path(config["TEMPLATES_DIR"])
        catalog = load_templates(templates_dir)
        keyring = KeyringSlot(
            keys_dir=Path(config["KEYS_DIR"]),
            passphrase=issuer_config.passphrase_bytes(config),
            controller=issuer_did,
            allow_unencrypted=config["ENV"] == "development",
        )
        profile = IssuerProfile(id=issuer_did, name=config["NAME"], url=base_url)
        status_allocator = StatusAllocator(base_url, config["STATUS_LIST_SIZE"])
        revocation = RevocationService(
            db,
            keyring,
            status_allocator,
            issuer_id=issuer_did,
            jwt_algorithm=config["JWT_ALGORITHM"],
            archive=StatusArchive(Path(config["STATUS_ARCHIVE_DIR"])),
        )
        issuance = IssuanceService(
            db,
            catalog,
            keyring,
            issuer=profile,
            base_url=base_url,
            jwt_algorithm=config["JWT_ALGORITHM"],
            status=status_allocator,
        )
        earner = EarnerService(
            db,
            issuance,
            revocation,
            SettingsLinks(config["SECRET_KEY"]),
            base_url=base_url,
        )
        mail_settings = MailSettings.from_config(config)
        mail = MailService(
            # Tests deliver in their own thread, so that no worker outlives a test's database.
            Outbox(db, transport_for(mail_settings), background=not config.get("TESTING")),
            mail_settings,
            issuer_name=config["NAME"],
            page_url=earner.page_url,
            settings_url=earner.settings_url,
        )
        if not mail_settings.host:
            log.warning("No ISSUER_SMTP_HOST: e-mail is written to %s", mail_settings.outbox_dir)
        audit = AuditLog(db)
        wallet = WalletService(
            db,
            issuance,
            revocation,
            keyring,
            audit,
            base_url=base_url,
            issuer_name=config["NAME"],
            logo_url=_wallet_logo_url(catalog, base_url),
            jwt_algorithm=config["JWT_ALGORITHM"],
            tx_code=str(config["WALLET_TX_CODE"]).lower() not in ("false", "0", "no"),
        )
        services = cls(
            db=db,
            catalog=catalog,
            keyring=keyring,
            issuer_profile=profile,
            base_url=base_url,
            assessors=AssessorService(db),
            issuance=issuance,
            revocation=revocation,
            templates_dir=templates_dir,
            earner=earner,
            mail=mail,
            audit=audit,
            wallet=wallet,
            award=AwardPipeline(issuance, audit, mail, settings=config),
        )
        services.load_keys_if_present()
        log.info("Issuer %s at %s, %d badge templates", issuer_did, base_url, len(catalog))
        return services

    def revoke(
        self,
        credential_id: str,
        reason: object,
        *,
        by: Principal | None,
        actor: str,
        address: str | None,
        details: dict[str, Any],
    ) -> RevokedCredential:
        """Revoke one credential and record it in the audit log, in one transaction.

        Raises as ``RevocationService.revoke``.
        """
        revoked = self.revocation.revoke(
            credential_id,
            reason,
            by=by,
            store_with=self._audit_revocations(actor, address, details),
        )
        self._publish_revocations()
        return revoked

    def revoke_many(
        self,
        request: dict[str, Any],
        *,
        by: Principal | None,
        actor: str,
        address: str | None,
        details: dict[str, Any],
    ) -> BulkRevocation:
        """Revoke many credentials atomically, each recorded in the audit log in the same
        transaction. Raises as ``RevocationService.revoke_many``."""
        revoked = self.revocation.revoke_many(
            request, by=by, store_with=self._audit_revocations(actor, address, details)
        )
        self._publish_revocations()
        return revoked

    def _publish_revocations(self) -> None:
        # Published at once, so that the status archive holds it and no restore of an
        # older backup can undo it; a failure here leaves it to the next reader to sign.
        try:
            self.revocation.publish_changed()
        except IssuerError as error:
            log.warning("Revocation stored but its status list not signed yet: %s", error)

    def _audit_revocations(
        self, actor: str, address: str | None, details: dict[str, Any]
    ) -> RevocationHook:
        def record(session: Session, revoked: Sequence[str], reason: str) -> None:
            for credential_id in revoked:
                self.audit.record(
                    actor,
                    "credential.revoked",
                    credential_id,
                    address=address,
                    details={"reason": reason, **details},
                    session=session,
                )

        return record

    def refuse_while_restoring(self) -> None:
        """Refuse to serve a database whose restore started and did not complete (its
        revocations may not all be back yet). Checked until it is once seen complete.

        Raises Unavailable ``restore_incomplete``.
        """
        if self._restore_seen_complete:
            return
        from issuer.backup import restore_pending

        try:
            pending = restore_pending(self.db)
        except UNAVAILABLE_ERRORS:
            # Not known now (no database, or not migrated yet): the request meets that
            # itself if it needs the database; what does not is served.
            return
        if pending:
            raise Unavailable(
                "restore_incomplete",
                "A restore of this service did not complete; run `issuer restore` again.",
                retry_after=60,
            )
        self._restore_seen_complete = True

    def load_keys_if_present(self) -> None:
        """Load the keys now, so a wrong passphrase stops start-up; tolerate no keys yet."""
        try:
            self.keyring()
        except KeyringError as error:
            if error.code != "key_missing":
                raise
            log.warning("No signing keys yet in %s: run `issuer init`.", self.keyring.keys_dir)

    def issuer_document(self) -> dict[str, Any]:
        """The issuer's OB ``Profile`` as a standalone JSON-LD document."""
        return {"@context": [VC_V2_CONTEXT, OB_V3_CONTEXT], **self.issuer_profile.as_json()}

    def achievement_document(self, template: Template) -> dict[str, Any]:
        """An ``Achievement`` as a standalone JSON-LD document."""
        achievement = build_achievement(
            template.document, base_url=self.base_url, creator=self.issuer_profile
        )
        return {"@context": [VC_V2_CONTEXT, OB_V3_CONTEXT], **achievement}

    def did_document(self) -> dict[str, Any]:
        keyring = self.keyring()
        return did.did_document(keyring.controller, keyring.public_keys())

    def jwks(self) -> dict[str, Any]:
        return did.jwks(self.keyring().public_keys())

    def readiness(self) -> dict[str, str]:
        """What ``/readyz`` reports: each dependency and whether it is usable ("ok", else
        a code). Read-only, and bounded in time: a database that does not answer within
        ``READINESS_TIMEOUT_SECONDS`` is ``unavailable``."""
        checks: dict[str, str] = {}
        database = _within(READINESS_TIMEOUT_SECONDS, self._database_readiness)
        checks.update(database or {"database": "unavailable"})
        try:
            self.keyring()
            missing = keyring_module.missing_files(self.keyring.keys_dir)
            checks["keys"] = "ok" if not missing else "key_missing"
            if missing:
                log.warning("Readiness: key files missing: %s", ", ".join(missing))
        except KeyringError as error:
            checks["keys"] = error.code
        checks["templates"] = "ok" if len(self.catalog) else "none"
        return checks

    def _database_readiness(self) -> dict[str, str]:
        from issuer.backup import restore_pending

        checks: dict[str, str] = {}
        try:
            self.db.ping()
            checks["database"] = self.db.storage_problem() or "ok"
            current, head = self.db.schema_versions()
            checks["schema"] = "ok" if current == head else f"schema_outdated:{current}<{head}"
            checks["restore"] = "restore_incomplete" if restore_pending(self.db) else "ok"
        except Exception as error:
            log.warning("Readiness: database unusable: %s", type(error).__name__)
            checks["database"] = "unavailable"
        return checks


# /readyz answers within this many seconds, whatever the database does.
READINESS_TIMEOUT_SECONDS = 3.0


def _within(seconds: float, work: Callable[[], dict[str, str]]) -> dict[str, str] | None:
    """``work()``, or None when it has not finished within ``seconds`` (it is left to end
    in its own daemon thread)."""
    outcome: list[dict[str, str]] = []
    thread = threading.Thread(target=lambda: outcome.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else None


def _wallet_logo_url(catalog: TemplateCatalog, base_url: str) -> str | None:
    """The picture wallets show for our credentials: the first level's badge art."""
    for framework in catalog.frameworks():
        for template in catalog.levels(framework.slug):
            return f"{base_url}/achievements/{framework.slug}/{template.level_slug}.png"
    return None

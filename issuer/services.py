"""The domain services, built once per process from the validated configuration."""

from __future__ import annotations

import logging
import threading
import time
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
from issuer.key_publication import KeyPublication
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
    """The keyring, loaded on first use (so that ``issuer init`` can run before keys exist)
    and loaded again whenever the keys manifest changes: a running worker signs with a
    rotated key, or with keys copied in from another host, without a restart.

    A manifest that cannot be loaded (a copy still arriving, a wrong passphrase) leaves the
    keys in use as they were; it is tried again when it changes or after
    ``RELOAD_RETRY_SECONDS``, and ``reload_error`` says why meanwhile (``/readyz``).
    """

    keys_dir: Path
    passphrase: bytes | None
    controller: str
    allow_unencrypted: bool
    clock: Callable[[], float] = time.monotonic
    reload_error: KeyringError | None = None
    _keyring: Keyring | None = None
    _signature: tuple[int, int, int] | None = None
    _failed: tuple[tuple[int, int, int] | None, float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> Keyring:
        """The keyring. Raises KeyringError when no keys could ever be loaded."""
        current = self._keyring
        if current is not None and not self._should_load():
            return current
        # One thread loads; the others go on with the keys in use, when there are some.
        if current is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return current
        try:
            if self._keyring is None or self._should_load():
                return self._load()
            return self._keyring
        finally:
            self._lock.release()

    def reset(self) -> None:
        with self._lock:
            self._keyring, self._signature, self._failed, self.reload_error = None, None, None, None

    def _should_load(self) -> bool:
        signature = keyring_module.manifest_signature(self.keys_dir)
        if signature == self._signature:
            return False
        failed = self._failed
        return not (
            failed is not None
            and failed[0] == signature
            and self.clock() - failed[1] < RELOAD_RETRY_SECONDS
        )

    def _load(self) -> Keyring:
        """The keys loaded now, or the ones in use when the changed ones cannot be."""
        signature = keyring_module.manifest_signature(self.keys_dir)
        try:
            keyring = Keyring.load(
                self.keys_dir,
                self.passphrase,
                controller=self.controller,
                allow_unencrypted=self.allow_unencrypted,
            )
        except KeyringError as error:
            if self._keyring is None:
                raise
            if self._failed is None or self._failed[0] != signature:
                log.error("The changed keys in %s cannot be loaded: %s", self.keys_dir, error)
            self._failed, self.reload_error = (signature, self.clock()), error
            return self._keyring
        for line in keyring.describe():
            log.info("Key loaded: %s", line)
        self._keyring, self._signature, self._failed, self.reload_error = (
            keyring,
            signature,
            None,
            None,
        )
        return keyring


# A keys manifest that could not be loaded is tried again after this long.
RELOAD_RETRY_SECONDS = 5.0


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
    # Every public key of the issuer, on every host (this one's keyring and the database's).
    keys: KeyPublication
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
            keys=KeyPublication(db, keyring),
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
        return did.did_document(self.issuer_profile.id, self.keys.public_keys())

    def jwks(self) -> dict[str, Any]:
        return did.jwks(self.keys.public_keys())

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
            if self.keyring.reload_error is not None:
                # Changed keys that cannot be loaded: the ones in use still sign.
                checks["keys"] = self.keyring.reload_error.code
            elif missing:
                log.warning("Readiness: key files missing: %s", ", ".join(missing))
                checks["keys"] = "key_missing"
            else:
                checks["keys"] = "ok"
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
            if current == head:
                checks["signing_keys"] = self._signing_keys_readiness()
        except Exception as error:
            log.warning("Readiness: database unusable: %s", type(error).__name__)
            checks["database"] = "unavailable"
        return checks

    def _signing_keys_readiness(self) -> str:
        """``signing_key_retired`` when another host rotated a key that this host's keys
        directory still has active (copy the rotated directory here)."""
        try:
            retired = self.keys.retired_signing_keys()
        except KeyringError:
            return "ok"  # the keys check says what is wrong with them
        if retired:
            log.warning("Readiness: signing with retired keys: %s", ", ".join(retired))
        return "signing_key_retired" if retired else "ok"


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

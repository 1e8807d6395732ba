"""Which public keys the issuer publishes, the same on every host.

A host's keyring knows the keys in its own keys directory, but a credential signed on one
host is checked against whichever host answers for the DID document. So every key is also
written to the database (``published_keys``), and each host publishes (in its DID
document, its JWK Set and to its own verifier) its keyring's keys together with every key
there. ``issuer keys rotate`` writes the new key there first and waits
``PUBLICATION_SECONDS``, longer than any host keeps its view (``REFRESH_SECONDS``), before
the manifest makes the key active: a key is published on every host before anything is
signed with it. Keys are never removed; a retired key keeps old credentials verifiable.

A host whose keys directory is an old copy signs with a key the database says is retired:
``/readyz`` reports it (``signing_key_retired``) until the directory is brought up to date,
which the running workers then load by themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from issuer.did import PublicKeyObject, key_fragment
from issuer.errors import KeyringError
from issuer.keyring import ACTIVE, ALGORITHMS, RETIRED, Keyring, PublicKey, publication_order
from issuer.storage import Database, Session
from issuer.storage.models import PublishedKey

log = logging.getLogger("issuer.key_publication")

# A host reads the database's keys again when its view is this old...
REFRESH_SECONDS = 1.0
# ...so a new key is signed with only after every host has read it.
PUBLICATION_SECONDS = 2 * REFRESH_SECONDS + 0.5
# A host that could not record its keys (database down or read-only) tries again after this.
_RETRY_SECONDS = 30.0


class KeyPublication:
    """The published keys of the issuer ``keyring().controller`` (safe to share by threads)."""

    def __init__(
        self,
        db: Database,
        keyring: Callable[[], Keyring],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._clock = clock
        self._lock = threading.Lock()
        self._stored: list[PublicKey] = []
        self._read_at: float | None = None
        self._recorded: Keyring | None = None
        self._record_failed_at: float | None = None

    def public_keys(self) -> list[PublicKey]:
        """Every key to publish: this host's and every other host's, in DID document order;
        a key either side has retired is retired. Raises KeyringError when this host's
        keys cannot be loaded."""
        keyring = self._keyring()
        self._record_once(keyring)
        merged = {key.kid: key for key in self._stored_keys(keyring.controller)}
        for key in keyring.public_keys():
            stored = merged.get(key.kid)
            merged[key.kid] = stored if stored is not None and stored.status == RETIRED else key
        return publication_order(merged.values())

    def record(self, keys: Iterable[PublicKey]) -> None:
        """Write ``keys`` to the database: new ones as they are, and the retirement of one
        already there (a retired key never becomes active again). Writes nothing when the
        database knows them all, so a read-only database is no error then.

        Raises KeyringError ``keys_not_published`` when the database cannot take them.
        """
        keys = list(keys)
        try:
            with self._db.read() as session:
                if not _changes(session, keys):
                    return
            with self._db.write() as session:
                self._db.lock(session, "published_keys")
                for key in _changes(session, keys):
                    row = session.get(PublishedKey, key.kid)
                    if row is None:
                        session.add(_row(key))
                    else:
                        row.status, row.retired_at = RETIRED, datetime.now(UTC)
        except SQLAlchemyError as error:
            raise KeyringError(
                "keys_not_published",
                f"The keys could not be written to the database ({type(error).__name__}); "
                "check ISSUER_DATABASE_URL and run `issuer init`.",
            ) from None
        with self._lock:
            self._read_at = None

    def retired_signing_keys(self) -> list[str]:
        """The kids this host signs with that the database says are retired (its keys
        directory is older than another host's rotation). Raises the database's errors."""
        keyring = self._keyring()
        signing = {key.kid for key in keyring.public_keys() if key.status == ACTIVE}
        with self._db.read() as session:
            retired = session.scalars(
                select(PublishedKey.kid).where(
                    PublishedKey.kid.in_(signing), PublishedKey.status == RETIRED
                )
            ).all()
        return sorted(retired)

    def _record_once(self, keyring: Keyring) -> None:
        """Record a newly loaded keyring's keys; a failure is logged and tried again later,
        and never stops this host publishing its own keys."""
        now = self._clock()
        with self._lock:
            if self._recorded is keyring:
                return
            if self._record_failed_at is not None and now - self._record_failed_at < _RETRY_SECONDS:
                return
        try:
            self.record(keyring.public_keys())
        except KeyringError as error:
            log.warning("%s", error.message)
            with self._lock:
                self._record_failed_at = now
            return
        with self._lock:
            self._recorded, self._record_failed_at = keyring, None

    def _stored_keys(self, controller: str) -> list[PublicKey]:
        now = self._clock()
        with self._lock:
            if self._read_at is not None and now - self._read_at < REFRESH_SECONDS:
                return self._stored
        try:
            with self._db.read() as session:
                rows = session.scalars(select(PublishedKey)).all()
        except SQLAlchemyError as error:
            # This host's own keys are still published; the others' as last read.
            log.warning("The published keys could not be read: %s", type(error).__name__)
            return self._stored
        stored = [key for row in rows if (key := _key(row, controller)) is not None]
        with self._lock:
            self._stored, self._read_at = stored, now
        return stored


def _changes(session: Session, keys: list[PublicKey]) -> list[PublicKey]:
    """The keys the database does not know, or knows as active while they are retired."""
    rows = {
        row.kid: row
        for row in session.scalars(
            select(PublishedKey).where(PublishedKey.kid.in_([key.kid for key in keys]))
        )
    }
    return [
        key
        for key in keys
        if key.kid not in rows or (key.status == RETIRED and rows[key.kid].status != RETIRED)
    ]


def _row(key: PublicKey) -> PublishedKey:
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublishedKey(
        kid=key.kid,
        alg=key.alg,
        public_key_pem=pem.decode("ascii"),
        status=key.status,
        created_at=key.created,
        retired_at=datetime.now(UTC) if key.status == RETIRED else None,
    )


def _key(row: PublishedKey, controller: str) -> PublicKey | None:
    """The row as a PublicKey of ``controller``; None (logged) for a row of another issuer
    identity or one that does not hold the key its kid names."""
    if not row.kid.startswith(f"{controller}#"):
        return None
    try:
        public_key = serialization.load_pem_public_key(row.public_key_pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        public_key = None
    if not isinstance(public_key, PublicKeyObject):
        log.warning("The published key %s is unreadable; it is not published.", row.kid[:200])
        return None
    try:
        fragment = key_fragment(public_key)
    except KeyringError:
        fragment = None
    if fragment is None or row.kid != f"{controller}#{fragment}" or row.alg not in ALGORITHMS:
        log.warning("The published key %s does not match its id; not published.", row.kid[:200])
        return None
    return PublicKey(row.kid, row.alg, public_key, row.status, row.created_at, fragment)

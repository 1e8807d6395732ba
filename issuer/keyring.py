"""The issuer's signing keys: the only module that reads private key bytes.

Three kinds of key, named by the JOSE algorithm they sign with: ``EdDSA`` (Ed25519, for
the Data Integrity proof), ``RS256`` (RSA 3072, the default VC-JWT algorithm) and
``ES256`` (P-256). Each kind has exactly one active key; rotated keys are retired, and of
a retired key only the public half is kept, so credentials it signed keep verifying.

The on-disk layout (described for operators in ``keys/README.md``)::

    keys/
      manifest.json                          which keys exist, their kind, status, dates
      rsa3072-20261128T141900123456Z.key.pem private key, PKCS#8, encrypted, mode 0600
      rsa3072-20261128T141900123456Z.pub.pem public key (SubjectPublicKeyInfo)
      .lock                                  serializes generate/rotate

Every file is written to a temporary name and renamed into place, and the manifest is
written last, so a crash leaves either the old key set or the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from issuer.did import PublicKeyObject, key_fragment
from issuer.errors import KeyringError

logger = logging.getLogger("issuer.keyring")

PrivateKeyObject = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PrivateKeyT = TypeVar("PrivateKeyT", bound=PrivateKeyObject, covariant=True)

ALGORITHMS = ("EdDSA", "RS256", "ES256")
RSA_KEY_SIZE = 3072
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
ACTIVE = "active"
RETIRED = "retired"

_FILE_PREFIX = {"EdDSA": "ed25519", "RS256": "rsa3072", "ES256": "p256"}
_KEY_NAME = re.compile(r"(ed25519|rsa3072|p256)-\d{8}T\d{12}Z")
_STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
# The label of a PEM block: "PRIVATE KEY" (PKCS#8) or "ENCRYPTED PRIVATE KEY" (PKCS#8, encrypted).
_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_PKCS8_LABEL = b"PRIVATE KEY"
_ENCRYPTED_PKCS8_LABEL = b"ENCRYPTED " + _PKCS8_LABEL
_MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class KeyRecord:
    """One key as the manifest lists it; ``name`` is the stem of its PEM files."""

    alg: str
    name: str
    created: datetime
    status: str
    retired: datetime | None = None

    @property
    def private_key_file(self) -> str:
        return f"{self.name}.key.pem"

    @property
    def public_key_file(self) -> str:
        return f"{self.name}.pub.pem"


@dataclass(frozen=True)
class CreatedKey:
    """A key that ``generate_missing`` or ``rotate`` has just written."""

    alg: str
    fragment: str
    created: datetime
    encrypted: bool

    def kid(self, controller: str) -> str:
        return f"{controller}#{self.fragment}"

    def describe(self) -> str:
        protection = "encrypted" if self.encrypted else "NOT encrypted"
        return f"{self.alg} {self.fragment} active ({protection})"


@dataclass(frozen=True)
class PublicKey:
    """A published key: every key that ever signed, active or retired."""

    kid: str
    alg: str
    public_key: PublicKeyObject = field(repr=False)
    status: str
    created: datetime
    fragment: str


@dataclass(frozen=True)
class SigningKey(Generic[PrivateKeyT]):
    """The active key of one algorithm, with its private half (for the proof modules)."""

    kid: str
    alg: str
    private_key: PrivateKeyT = field(repr=False)
    public_key: PublicKeyObject = field(repr=False)
    created: datetime
    encrypted: bool


class Keyring:
    """The issuer's keys, loaded once and read-only afterwards (safe to share by threads)."""

    def __init__(
        self,
        controller: str,
        signing_keys: dict[str, SigningKey[PrivateKeyObject]],
        public_keys: list[PublicKey],
    ) -> None:
        self._controller = controller
        self._signing_keys = dict(signing_keys)
        self._public_keys = list(public_keys)
        self._by_kid = {key.kid: key for key in public_keys}

    @classmethod
    def load(
        cls,
        keys_dir: Path,
        passphrase: bytes | None,
        *,
        controller: str,
        allow_unencrypted: bool,
    ) -> Keyring:
        """Load every key in ``keys_dir``; ``controller`` is the issuer DID.

        Raises KeyringError with ``key_missing`` (no active key of some kind),
        ``manifest_invalid``, ``key_file_unreadable``, ``key_file_permissions`` (a
        private key readable by group or others), ``key_unencrypted`` (a private key
        without passphrase while ``allow_unencrypted`` is False), ``passphrase_required``,
        ``wrong_passphrase``, ``key_mismatch`` or ``key_type_unsupported``.
        """
        if not controller.startswith("did:"):
            raise KeyringError("controller_invalid", "The key controller must be a DID.")
        records = _read_manifest(keys_dir)
        for alg in ALGORITHMS:
            _active_record(records, alg, keys_dir)
        signing_keys: dict[str, SigningKey[PrivateKeyObject]] = {}
        public_keys: list[PublicKey] = []
        for record in publication_order(records):
            public_key = _read_public_key(keys_dir, record)
            fragment = key_fragment(public_key)
            kid = f"{controller}#{fragment}"
            public_keys.append(
                PublicKey(kid, record.alg, public_key, record.status, record.created, fragment)
            )
            if record.status == RETIRED:
                _warn_if_retired_private_key_left(keys_dir, record)
                continue
            private_key, encrypted = _open_private_key(
                keys_dir, record, passphrase, allow_unencrypted=allow_unencrypted
            )
            if not encrypted:
                logger.warning(
                    "The %s private key %s is not encrypted at rest (allowed in development).",
                    record.alg,
                    record.private_key_file,
                )
            if private_key.public_key() != public_key:
                raise KeyringError(
                    "key_mismatch",
                    f"{record.private_key_file} and {record.public_key_file} are not one key "
                    "pair; restore both files from the same backup.",
                )
            signing_keys[record.alg] = SigningKey(
                kid, record.alg, private_key, public_key, record.created, encrypted
            )
        return cls(controller, signing_keys, public_keys)

    @property
    def controller(self) -> str:
        return self._controller

    @overload
    def signing_key(self, alg: Literal["EdDSA"]) -> SigningKey[ed25519.Ed25519PrivateKey]: ...

    @overload
    def signing_key(self, alg: str) -> SigningKey[PrivateKeyObject]: ...

    def signing_key(self, alg: str) -> SigningKey[Any]:
        """The active key for ``alg`` (``EdDSA``, ``RS256`` or ``ES256``); the ``EdDSA``
        key's ``private_key`` is an Ed25519 key, which ``load`` has checked.

        Raises KeyringError (``unknown_algorithm``) for any other algorithm.
        """
        try:
            return self._signing_keys[alg]
        except KeyError:
            raise KeyringError(
                "unknown_algorithm", f"No signing key for algorithm {alg!r}."
            ) from None

    def public_keys(self) -> list[PublicKey]:
        """Every key that ever signed: active ones first, by algorithm, then retired ones
        newest first."""
        return list(self._public_keys)

    def find(self, kid: str) -> PublicKey:
        """The published key whose ``kid`` (absolute DID URL) is ``kid``.

        Raises KeyringError (``unknown_key``) when the issuer has no such key.
        """
        try:
            return self._by_kid[kid]
        except (KeyError, TypeError):
            raise KeyringError("unknown_key", "The issuer has no key with this id.") from None

    def describe(self) -> list[str]:
        """One line per key for logs and ``issuer keys list``; never key material."""
        lines = []
        for key in self._public_keys:
            if key.status == ACTIVE:
                signing_key = self._signing_keys[key.alg]
                protection = "encrypted" if signing_key.encrypted else "NOT encrypted"
                lines.append(f"{key.alg} {key.fragment} active ({protection})")
            else:
                lines.append(f"{key.alg} {key.fragment} retired (created {key.created:%Y-%m-%d})")
        return lines


def generate_missing(
    keys_dir: Path, passphrase: bytes | None, *, now: datetime | None = None
) -> list[CreatedKey]:
    """Create a key for each algorithm that has no active key; return the new keys.

    Safe to run again: with every kind present it writes nothing. Private keys are
    encrypted with ``passphrase`` when one is given. Before adding a key next to
    encrypted ones it checks that ``passphrase`` opens them, so one directory never
    holds keys under two passphrases.

    Raises KeyringError with ``manifest_invalid``, ``passphrase_empty``,
    ``passphrase_required`` or ``wrong_passphrase``.
    """
    _check_passphrase(passphrase)
    _ensure_private_directory(keys_dir)
    with _exclusive_lock(keys_dir):
        records = _read_manifest(keys_dir, missing_ok=True)
        active_algs = {record.alg for record in records if record.status == ACTIVE}
        missing = [alg for alg in ALGORITHMS if alg not in active_algs]
        if not missing:
            return []
        for record in records:
            if record.status == ACTIVE:
                _open_private_key(keys_dir, record, passphrase, allow_unencrypted=True)
        created = []
        for alg in missing:
            record, new_key = _create_key(keys_dir, alg, passphrase, now or _utcnow())
            records.append(record)
            created.append(new_key)
        _write_manifest(keys_dir, records)
        return created


def rotate(
    keys_dir: Path,
    passphrase: bytes | None,
    kind: str,
    *,
    publish: Callable[[str, PublicKeyObject, datetime], None] | None = None,
    now: datetime | None = None,
) -> CreatedKey:
    """Replace the active key of algorithm ``kind`` by a new one and retire the old one.

    ``publish(alg, public_key, created)`` runs once the new key's files are written and
    before the manifest makes it active (running workers load a new manifest by
    themselves, see ``issuer.services.KeyringSlot``): a key is published before anything
    is signed with it. When ``publish`` raises, the new files are removed and the key set
    is unchanged.

    The retired key's private file is deleted once the manifest names the new key; its
    public file stays, so its ``kid`` stays in the DID document. The old key must open
    with ``passphrase`` (an unencrypted old key is accepted, which is how a key set is
    moved to encryption).

    Raises KeyringError with ``unknown_algorithm``, ``key_missing``, ``manifest_invalid``,
    ``passphrase_empty``, ``passphrase_required`` or ``wrong_passphrase``.
    """
    if kind not in ALGORITHMS:
        raise KeyringError(
            "unknown_algorithm", f"Cannot rotate {kind!r}; choose one of {', '.join(ALGORITHMS)}."
        )
    _check_passphrase(passphrase)
    _ensure_private_directory(keys_dir)
    with _exclusive_lock(keys_dir):
        records = _read_manifest(keys_dir)
        old = _active_record(records, kind, keys_dir)
        _open_private_key(keys_dir, old, passphrase, allow_unencrypted=True)
        timestamp = now or _utcnow()
        new_record, created = _create_key(keys_dir, kind, passphrase, timestamp)
        if publish is not None:
            try:
                publish(kind, _read_public_key(keys_dir, new_record), timestamp)
            except BaseException:
                (keys_dir / new_record.private_key_file).unlink(missing_ok=True)
                (keys_dir / new_record.public_key_file).unlink(missing_ok=True)
                raise
        records = [
            replace(record, status=RETIRED, retired=timestamp) if record == old else record
            for record in records
        ]
        records.append(new_record)
        _write_manifest(keys_dir, records)
        for record in records:
            if record.status == RETIRED:
                (keys_dir / record.private_key_file).unlink(missing_ok=True)
        _fsync_directory(keys_dir)
        return created


def export_files(
    keys_dir: Path, destination: Path, *, allow_unencrypted: bool
) -> tuple[list[str], bool]:
    """Copy the key set (the manifest and every key file it names) into the new folder
    ``destination``, private keys still encrypted; return the file names copied and
    whether an unencrypted private key was among them (development only).

    This and ``import_files`` are the only ways keys leave or enter the keys directory.

    Raises KeyringError with ``key_missing``, ``manifest_invalid``, ``key_file_unreadable``
    and ``key_unencrypted`` (a private key without passphrase while ``allow_unencrypted``
    is False: a backup must not carry a usable private key).
    """
    with _exclusive_lock(keys_dir):
        records = _read_manifest(keys_dir)
        destination.mkdir(mode=0o700)
        copied = [MANIFEST_NAME]
        unencrypted = False
        _write_atomically(
            destination / MANIFEST_NAME, _read_file(keys_dir / MANIFEST_NAME), mode=0o644
        )
        for record in records:
            public_pem = _read_file(keys_dir / record.public_key_file)
            _write_atomically(destination / record.public_key_file, public_pem, mode=0o644)
            copied.append(record.public_key_file)
            if record.status == RETIRED:
                continue
            private_pem = _read_file(keys_dir / record.private_key_file)
            label = _PEM_LABEL.match(private_pem.lstrip())
            plain = label is None or label.group(1) != _ENCRYPTED_PKCS8_LABEL
            unencrypted = unencrypted or plain
            if plain and not allow_unencrypted:
                raise KeyringError(
                    "key_unencrypted",
                    f"{record.private_key_file} is not encrypted; a backup never carries an "
                    "unencrypted key (set ISSUER_KEY_PASSPHRASE and rotate it first).",
                )
            _write_atomically(destination / record.private_key_file, private_pem, mode=0o600)
            copied.append(record.private_key_file)
        return copied, unencrypted


def manifest_signature(keys_dir: Path) -> tuple[int, int, int] | None:
    """What changes whenever the manifest is rewritten (it is replaced by rename, so its
    inode changes), read without opening it; None when there is none."""
    try:
        status = (keys_dir / MANIFEST_NAME).stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def missing_files(keys_dir: Path) -> list[str]:
    """The key files the manifest names that are not on disk (all of them without a
    manifest): a running service whose keys directory went away must not say it is ready.
    """
    try:
        records = _read_manifest(keys_dir)
    except KeyringError:
        return [str(keys_dir / MANIFEST_NAME)]
    wanted = [record.public_key_file for record in records]
    wanted += [record.private_key_file for record in records if record.status == ACTIVE]
    return [name for name in wanted if not (keys_dir / name).is_file()]


def key_names(keys_dir: Path) -> set[str] | None:
    """The names of the keys the manifest of ``keys_dir`` lists, or None without one.

    Raises KeyringError ``manifest_invalid``.
    """
    if not (keys_dir / MANIFEST_NAME).exists():
        return None
    return {record.name for record in _read_manifest(keys_dir)}


def import_files(source: Path, keys_dir: Path) -> list[str]:
    """Install the key set of a backup folder ``source`` into ``keys_dir``, which must hold
    no key set yet; the manifest is written last, so a crash leaves no half key set.

    Raises KeyringError with ``keys_exist`` when ``keys_dir`` has a manifest, and as
    ``_read_manifest`` for a damaged backup.
    """
    _ensure_private_directory(keys_dir)
    with _exclusive_lock(keys_dir):
        if (keys_dir / MANIFEST_NAME).exists():
            raise KeyringError(
                "keys_exist", f"{keys_dir} already holds keys; move them aside to restore others."
            )
        records = _read_manifest(source)
        written = []
        for record in records:
            names = [record.public_key_file]
            if record.status == ACTIVE:
                names.append(record.private_key_file)
            for name in names:
                mode = 0o600 if name.endswith(".key.pem") else 0o644
                target = keys_dir / name
                data = _read_file(source / name)
                if target.exists() and target.read_bytes() == data:
                    continue
                target.unlink(missing_ok=True)
                _write_atomically(target, data, mode=mode, new=True)
                written.append(name)
        _write_atomically(keys_dir / MANIFEST_NAME, _read_file(source / MANIFEST_NAME), mode=0o644)
        written.append(MANIFEST_NAME)
        return written


def _create_key(
    keys_dir: Path, alg: str, passphrase: bytes | None, created: datetime
) -> tuple[KeyRecord, CreatedKey]:
    private_key = _generate_private_key(alg)
    record = KeyRecord(
        alg=alg,
        name=f"{_FILE_PREFIX[alg]}-{created.astimezone(UTC).strftime(_STAMP_FORMAT)}",
        created=created,
        status=ACTIVE,
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_atomically(keys_dir / record.private_key_file, private_pem, mode=0o600, new=True)
    _write_atomically(keys_dir / record.public_key_file, public_pem, mode=0o644, new=True)
    fragment = key_fragment(private_key.public_key())
    return record, CreatedKey(alg, fragment, created, encrypted=passphrase is not None)


def _generate_private_key(alg: str) -> PrivateKeyObject:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    return ec.generate_private_key(ec.SECP256R1())


def _check_passphrase(passphrase: bytes | None) -> None:
    if passphrase is not None and not passphrase:
        raise KeyringError(
            "passphrase_empty",
            "The key passphrase is empty; set ISSUER_KEY_PASSPHRASE to a long random value.",
        )


def _open_private_key(
    keys_dir: Path, record: KeyRecord, passphrase: bytes | None, *, allow_unencrypted: bool
) -> tuple[PrivateKeyObject, bool]:
    path = keys_dir / record.private_key_file
    _check_private_file_mode(path)
    pem = _read_file(path)
    label = _PEM_LABEL.match(pem.lstrip())
    encrypted = label is not None and label.group(1) == _ENCRYPTED_PKCS8_LABEL
    if label is None or label.group(1) not in (_PKCS8_LABEL, _ENCRYPTED_PKCS8_LABEL):
        raise KeyringError(
            "key_file_unreadable",
            f"{path} is not a PEM PKCS#8 private key; restore it from a backup.",
        )
    if encrypted and passphrase is None:
        raise KeyringError(
            "passphrase_required",
            f"{path} is encrypted; set ISSUER_KEY_PASSPHRASE to the passphrase of the keys.",
        )
    if not encrypted and not allow_unencrypted:
        raise KeyringError(
            "key_unencrypted",
            f"{path} is not encrypted; set ISSUER_KEY_PASSPHRASE and run `issuer keys rotate "
            f"{record.alg}` (the new key is encrypted), or set ISSUER_ENV=development.",
        )
    try:
        private_key = serialization.load_pem_private_key(pem, passphrase if encrypted else None)
    except ValueError:
        if encrypted:
            raise KeyringError(
                "wrong_passphrase",
                f"ISSUER_KEY_PASSPHRASE does not decrypt {path}; set the passphrase the keys "
                "were created with.",
            ) from None
        raise KeyringError(
            "key_file_unreadable", f"{path} cannot be read as a private key."
        ) from None
    if not isinstance(private_key, PrivateKeyObject) or _alg_of(private_key.public_key()) != (
        record.alg
    ):
        raise KeyringError(
            "key_type_unsupported",
            f"{path} does not hold a key for {record.alg}; restore it from a backup.",
        )
    return private_key, encrypted


def _read_public_key(keys_dir: Path, record: KeyRecord) -> PublicKeyObject:
    path = keys_dir / record.public_key_file
    try:
        public_key = serialization.load_pem_public_key(_read_file(path))
    except ValueError:
        raise KeyringError(
            "key_file_unreadable", f"{path} cannot be read as a public key."
        ) from None
    if not isinstance(public_key, PublicKeyObject) or _alg_of(public_key) != record.alg:
        raise KeyringError(
            "key_type_unsupported",
            f"{path} does not hold a key for {record.alg}; restore it from a backup.",
        )
    return public_key


def _alg_of(public_key: PublicKeyObject) -> str | None:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= RSA_KEY_SIZE:
        return "RS256"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        return "ES256"
    return None


def _check_private_file_mode(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyringError(
            "key_missing", f"{path} is missing; restore it from a backup or rotate the key."
        ) from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeyringError(
            "key_file_permissions",
            f"{path} is accessible to group or others; run `chmod 600 {path}`.",
        )


def _warn_if_retired_private_key_left(keys_dir: Path, record: KeyRecord) -> None:
    # A rotation that stopped between writing the manifest and deleting the old private
    # file leaves it behind; the next rotation deletes it, but the operator should know.
    if (keys_dir / record.private_key_file).exists():
        logger.warning(
            "The retired %s private key %s is still on disk; delete it.",
            record.alg,
            record.private_key_file,
        )


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            data = stream.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyringError(
            "key_missing", f"{path} is missing; restore it from a backup or rotate the key."
        ) from None
    except OSError as error:
        raise KeyringError(
            "key_file_unreadable", f"{path} cannot be read ({error.strerror})."
        ) from None
    if len(data) > _MAX_FILE_BYTES:
        raise KeyringError("key_file_unreadable", f"{path} is too large to be a key.")
    return data


class _Listed(Protocol):
    @property
    def alg(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created(self) -> datetime: ...


ListedT = TypeVar("ListedT", bound=_Listed)


def publication_order(keys: Iterable[ListedT]) -> list[ListedT]:
    """``keys`` in the order the DID document lists them: active ones first, by algorithm,
    then retired ones newest first."""

    def order(key: ListedT) -> tuple[bool, int, float]:
        return (key.status != ACTIVE, ALGORITHMS.index(key.alg), -key.created.timestamp())

    return sorted(keys, key=order)


def _active_record(records: list[KeyRecord], alg: str, keys_dir: Path) -> KeyRecord:
    for record in records:
        if record.alg == alg and record.status == ACTIVE:
            return record
    raise KeyringError(
        "key_missing", f"No active {alg} key in {keys_dir}; run `issuer init` to generate it."
    )


def _read_manifest(keys_dir: Path, *, missing_ok: bool = False) -> list[KeyRecord]:
    path = keys_dir / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return []
        raise KeyringError(
            "key_missing", f"No keys in {keys_dir}; run `issuer init` to generate them."
        ) from None
    try:
        records = _records_from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        raise KeyringError(
            "manifest_invalid", f"{path} is not a key manifest; restore it from a backup."
        ) from None
    if len({record.name for record in records}) != len(records):
        raise KeyringError("manifest_invalid", f"{path} lists one key twice.")
    for alg in ALGORITHMS:
        active = [r for r in records if r.alg == alg and r.status == ACTIVE]
        if len(active) > 1:
            raise KeyringError("manifest_invalid", f"{path} lists {len(active)} active {alg} keys.")
    return records


def _records_from_json(document: dict[str, Any]) -> list[KeyRecord]:
    if document["format"] != MANIFEST_FORMAT:
        raise ValueError("unknown manifest format")
    return [_record_from_json(entry) for entry in document["keys"]]


def _record_from_json(entry: dict[str, Any]) -> KeyRecord:
    alg, name, status = entry["alg"], entry["name"], entry["status"]
    if alg not in ALGORITHMS or status not in (ACTIVE, RETIRED):
        raise ValueError("unknown algorithm or status")
    # The name becomes a file name: only our own pattern, never a path.
    if not isinstance(name, str) or not _KEY_NAME.fullmatch(name):
        raise ValueError("bad key name")
    if not name.startswith(f"{_FILE_PREFIX[alg]}-"):
        raise ValueError("name does not match algorithm")
    retired = _parse_time(entry["retired"]) if status == RETIRED else None
    return KeyRecord(alg, name, _parse_time(entry["created"]), status, retired)


def _record_to_json(record: KeyRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "alg": record.alg,
        "name": record.name,
        "status": record.status,
        "created": _format_time(record.created),
    }
    if record.retired is not None:
        entry["retired"] = _format_time(record.retired)
    return entry


def _write_manifest(keys_dir: Path, records: list[KeyRecord]) -> None:
    document = {"format": MANIFEST_FORMAT, "keys": [_record_to_json(r) for r in records]}
    text = json.dumps(document, indent=2) + "\n"
    _write_atomically(keys_dir / MANIFEST_NAME, text.encode("utf-8"), mode=0o644)


def _write_atomically(path: Path, data: bytes, *, mode: int, new: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file; with ``new``, never replace an
    existing file (raises KeyringError ``key_exists``)."""
    # The file is created with its final mode (never chmod-ed later), so a private key
    # is never readable by others, not even for an instant.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if new:
            # link() refuses to replace an existing file, where rename() would not.
            os.link(temporary, path)
        else:
            os.replace(temporary, path)
    except FileExistsError:
        raise KeyringError(
            "key_exists", f"{path} already exists; wait a moment and try again."
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _ensure_private_directory(keys_dir: Path) -> None:
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The directory may come from a checkout (it holds the committed README) with 0755.
    if stat.S_IMODE(keys_dir.stat().st_mode) & 0o077:
        keys_dir.chmod(0o700)


@contextlib.contextmanager
def _exclusive_lock(keys_dir: Path) -> Iterator[None]:
    descriptor = os.open(keys_dir / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=UTC)

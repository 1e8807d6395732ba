"""The status list archive: every signed status list version, also kept outside the database.

Revocation is permanent, but a database restored from a backup has forgotten every
revocation made after the backup, and would publish its older bits again: a credential
revoked this morning would verify as valid. So each time a list is signed, its signed
credential is also written here, one file per version::

    status-archive/
      3/0000000007-20261207T031500Z.json     list 3, version 7, signed at that time

``issuer restore`` ORs the bits of every archived version back into the restored lists
(``union``): a bit once published stays set. Only versions whose proof verifies with one of
the issuer's keys count, so a file dropped here cannot revoke anything by itself. Files are
written to a temporary name, flushed and renamed, so a crash leaves whole files only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from issuer import status_list
from issuer.errors import IssuerError
from issuer.proofs import data_integrity

log = logging.getLogger("issuer.status_archive")

_FILE_NAME = re.compile(r"(\d{10})-(\d{8}T\d{6}Z)\.json")
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_MAX_FILE_BYTES = 1024 * 1024

# Finds the public key of a verification method id (``Keyring.find``), or raises.
KeyLookup = Callable[[str], Any]


@dataclass(frozen=True)
class ArchivedList:
    """The union of every archived version of one list: each bit set in any of them."""

    list_id: int
    bits: bytes
    versions: int
    last_signed_at: datetime


@dataclass(frozen=True)
class ArchiveReading:
    lists: dict[int, ArchivedList]
    refused: list[str]


class StatusArchive:
    def __init__(self, directory: Path):
        self.directory = directory

    def keep(
        self, list_id: int, version: int, signed_at: datetime, document: dict[str, Any]
    ) -> Path:
        """Write one signed version of list ``list_id`` (again is harmless)."""
        folder = self.directory / str(list_id)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = signed_at.astimezone(UTC).strftime(_STAMP_FORMAT)
        path = folder / f"{version:010d}-{stamp}.json"
        if path.exists():
            return path
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        temporary = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        with temporary.open("xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        return path

    def union(self, find_key: KeyLookup, list_url: Callable[[int], str]) -> ArchiveReading:
        """Every archived list's bits, ORed over its versions whose proof verifies.

        ``find_key`` resolves a proof's verification method to our public key (raising for
        a key that is not ours); ``list_url`` gives a list's URL, which the archived
        credential must carry. Files that fail are named in ``refused``, never counted.
        """
        lists: dict[int, ArchivedList] = {}
        refused: list[str] = []
        if not self.directory.is_dir():
            return ArchiveReading(lists, refused)
        for folder in sorted(self.directory.iterdir()):
            if not folder.is_dir() or not folder.name.isdigit():
                continue
            list_id = int(folder.name)
            for path in sorted(folder.iterdir()):
                match = _FILE_NAME.fullmatch(path.name)
                if match is None:
                    continue
                try:
                    bits = _verified_bits(path, find_key, list_url(list_id))
                except (IssuerError, ValueError, KeyError, TypeError, OSError) as error:
                    log.warning("Archived status list %s refused: %s", path, error)
                    refused.append(str(path))
                    continue
                signed_at = datetime.strptime(match.group(2), _STAMP_FORMAT).replace(tzinfo=UTC)
                earlier = lists.get(list_id)
                if earlier is None:
                    lists[list_id] = ArchivedList(list_id, bits, 1, signed_at)
                    continue
                lists[list_id] = ArchivedList(
                    list_id,
                    bits_or(earlier.bits, bits),
                    earlier.versions + 1,
                    max(earlier.last_signed_at, signed_at),
                )
        return ArchiveReading(lists, refused)


def bits_or(left: bytes, right: bytes) -> bytes:
    """Every bit set in either. Raises ValueError for lists of different sizes."""
    if len(left) != len(right):
        raise ValueError("status lists of different sizes")
    return (int.from_bytes(left, "big") | int.from_bytes(right, "big")).to_bytes(len(left), "big")


def _verified_bits(path: Path, find_key: KeyLookup, expected_url: str) -> bytes:
    with path.open("rb") as stream:
        data = stream.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise ValueError("too large")
    document = json.loads(data)
    subject = document["credentialSubject"]
    if document.get("id") != expected_url or subject.get("statusPurpose") != (
        status_list.PURPOSE_REVOCATION
    ):
        raise ValueError("not this revocation list")
    proof = data_integrity.read_proof(document)
    key = find_key(proof["verificationMethod"])
    data_integrity.verify_proof(document, key.public_key)
    return status_list.decode(subject["encodedList"])

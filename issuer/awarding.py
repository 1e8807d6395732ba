"""Awarding: an achievement template and an award become an unsigned OpenBadgeCredential.

Everything here is pure. The clock, the ids and the salt are parameters, so a test can pin
them and get the same credential byte for byte. Signing happens elsewhere (``issuer.proofs``).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from issuer.errors import InvalidInput

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


@dataclass(frozen=True)
class IssuerProfile:
    """The issuer as it appears inside every credential (an OB ``Profile``)."""

    id: str
    name: str
    url: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": ["Profile"], "name": self.name, "url": self.url}


@dataclass(frozen=True)
class Evidence:
    narrative: str | None = None
    url: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Award:
    """What an assessor asks for; ``statements`` are 0-based indexes, ``None`` meaning all."""

    achievement: str
    recipient_email: str
    recipient_name: str | None = None
    statements: tuple[int, ...] | None = None
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    valid_until: datetime | None = None


def normalize_email(email: str) -> str:
    """The form of an e-mail address that is hashed and stored: trimmed and lower-cased."""
    return email.strip().lower()


def looks_like_email(email: str) -> bool:
    """A local part, one last ``@``, a dotted domain, no spaces (deliverability is not checked)."""
    local, at, domain = email.strip().rpartition("@")
    return bool(at and local and "." in domain.strip(".") and " " not in email.strip())


def hash_identity(value: str, salt: str) -> str:
    """An OB 3.0 ``identityHash``: ``sha256$`` and the hex SHA-256 of the value and salt."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def format_datetime(moment: datetime) -> str:
    """An XML Schema dateTime in UTC, whole seconds, with ``Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def select_statements(template: dict[str, Any], statements: Sequence[int] | None) -> list[int]:
    """The 0-based statement indexes an award includes, sorted.

    Raises InvalidInput ``statement_out_of_range``, ``statement_duplicate`` or
    ``statements_below_minimum`` (naming the missing statements, counted from 1).
    """
    count = len(template["achievement"]["resultDescription"])
    if statements is None:
        return list(range(count))
    chosen = sorted(statements)
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("statement_duplicate", "A statement is listed more than once.")
    outside = [index for index in chosen if not 0 <= index < count]
    if outside:
        raise InvalidInput(
            "statement_out_of_range",
            f"Statement indexes run from 0 to {count - 1}; got {outside[0]}.",
            {"statements": outside},
        )
    required = template["requiredStatements"]
    if len(chosen) < required:
        missing = [index for index in range(count) if index not in chosen]
        numbers = ", ".join(str(index + 1) for index in missing)
        raise InvalidInput(
            "statements_below_minimum",
            f"This level requires {required} of its {count} statements; "
            f"{len(chosen)} were given. Not demonstrated: statement {numbers}.",
            {"required": required, "missing": missing},
        )
    return chosen


def build_achievement(
    template: dict[str, Any], *, base_url: str, creator: IssuerProfile
) -> dict[str, Any]:
    """The template's Achievement with its ids resolved against ``base_url``."""
    achievement = _resolve_paths(copy.deepcopy(template["achievement"]), base_url)
    achievement["creator"] = creator.as_json()
    return achievement


def build_credential(
    template: dict[str, Any],
    award: Award,
    *,
    issuer: IssuerProfile,
    base_url: str,
    now: datetime,
    credential_id: UUID,
    subject_id: UUID,
    salt: str,
) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential for ``award``.

    Raises InvalidInput when the statements do not satisfy the template or ``valid_until``
    is not after ``now``.
    """
    statements = select_statements(template, award.statements)
    valid_from = now.astimezone(UTC).replace(microsecond=0)
    if award.valid_until is not None and award.valid_until <= valid_from:
        raise InvalidInput("valid_until_in_past", "validUntil must be later than the issue time.")
    achievement = build_achievement(template, base_url=base_url, creator=issuer)

    identifiers = [
        {
            "type": "IdentityObject",
            "identityHash": hash_identity(normalize_email(award.recipient_email), salt),
            "identityType": "emailAddress",
            "hashed": True,
            "salt": salt,
        }
    ]
    if award.recipient_name:
        # The earner's name travels in clear so that whoever is shown the badge can read to
        # whom it was awarded; the e-mail address never does.
        identifiers.append(
            {
                "type": "IdentityObject",
                "identityHash": award.recipient_name,
                "identityType": "name",
                "hashed": False,
            }
        )
    subject: dict[str, Any] = {
        "id": subject_id.urn,
        "type": ["AchievementSubject"],
        "identifier": identifiers,
        "achievement": achievement,
        "result": [
            {
                "type": ["Result"],
                "resultDescription": achievement["resultDescription"][index]["id"],
                "status": "Completed",
            }
            for index in statements
        ],
    }
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT],
        "id": f"{base_url}/credentials/{credential_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer.as_json(),
        "validFrom": format_datetime(valid_from),
        "name": achievement["name"],
        "credentialSubject": subject,
    }
    if award.valid_until is not None:
        credential["validUntil"] = format_datetime(award.valid_until)
    if award.evidence:
        credential["evidence"] = [_evidence_json(item) for item in award.evidence]
    return credential


def _evidence_json(item: Evidence) -> dict[str, Any]:
    evidence: dict[str, Any] = {"type": ["Evidence"]}
    if item.url:
        evidence["id"] = item.url
    if item.name:
        evidence["name"] = item.name
    if item.narrative:
        evidence["narrative"] = item.narrative
    return evidence


def _resolve_paths(node: Any, base_url: str) -> Any:
    """Turn every ``id`` that is a path ("/…") into an absolute URL under ``base_url``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "id" and isinstance(value, str) and value.startswith("/"):
                node[key] = base_url + value
            else:
                _resolve_paths(value, base_url)
    elif isinstance(node, list):
        for item in node:
            _resolve_paths(item, base_url)
    return node

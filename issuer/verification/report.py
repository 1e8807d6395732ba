"""The verification report: one verdict, every check with its outcome, and what the credential says.

The summary is read from the credential as presented. It is shown beside the verdict, never
instead of it: a credential that fails a check still says who it claims to come from, and
the page and the API say plainly that the claim is not verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from issuer.verification.identity import IssuerIdentity

Status = Literal["pass", "fail", "warn"]

PASS: Status = "pass"  # noqa: S105 (a check status, not a password)
FAIL: Status = "fail"
WARN: Status = "warn"

_MAX_TEXT = 2000
_MAX_ITEMS = 100


@dataclass(frozen=True)
class CheckOutcome:
    """One check: its name, ``pass``/``fail``/``warn``, a stable code and a sentence."""

    check: str
    status: Status
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class VerificationReport:
    """``verified`` is true only when no check failed and a proof was checked.

    ``issuer_identity`` is what a good proof establishes of the issuer (None when the proof
    did not verify); the issuer's own name in ``credential`` is only its claim.
    """

    checks: tuple[CheckOutcome, ...]
    credential: dict[str, Any] | None = None
    source: str | None = None
    issuer_identity: IssuerIdentity | None = None
    verified: bool = field(init=False)

    def __post_init__(self) -> None:
        proof_passed = any(
            outcome.check == "proof" and outcome.status != FAIL for outcome in self.checks
        )
        no_failure = all(outcome.status != FAIL for outcome in self.checks)
        object.__setattr__(self, "verified", bool(self.checks) and proof_passed and no_failure)

    @property
    def failures(self) -> list[CheckOutcome]:
        return [outcome for outcome in self.checks if outcome.status == FAIL]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [outcome for outcome in self.checks if outcome.status == WARN]

    def outcome(self, check: str) -> CheckOutcome | None:
        return next((outcome for outcome in self.checks if outcome.check == check), None)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "verified": self.verified,
            "checks": [outcome.as_json() for outcome in self.checks],
            "credential": self.credential,
            "issuerIdentity": self.issuer_identity.as_json() if self.issuer_identity else None,
        }
        if self.source is not None:
            body["source"] = self.source
        return body


def summarize(credential: dict[str, Any], *, form: str) -> dict[str, Any]:
    """What a person wants to read about a credential, from its (unverified) content.

    Every value is a short plain string or a list of them; nothing here is trusted or
    interpreted as markup. Links are kept only when they are http(s) URLs.
    """
    subject = _first_object(credential.get("credentialSubject"))
    achievement = _object(subject.get("achievement"))
    issuer = credential.get("issuer")
    issuer_object = _object(issuer)
    issuer_id = issuer if isinstance(issuer, str) else issuer_object.get("id")
    descriptions = {
        _text(item.get("id")): _text(item.get("name"))
        for item in _objects(achievement.get("resultDescription"))
    }
    results = _objects(subject.get("result"))
    demonstrated = [
        descriptions.get(_text(result.get("resultDescription"))) or _text(result.get("value"))
        for result in results
    ]
    summary: dict[str, Any] = {
        "id": _text(credential.get("id")),
        "type": [_text(item) for item in _list(credential.get("type"))][:10],
        "format": form,
        "name": _text(credential.get("name")),
        "issuer": {
            "id": _text(issuer_id),
            "name": _text(issuer_object.get("name")),
            "url": _link(issuer_object.get("url")),
        },
        "recipient": {
            "id": _text(subject.get("id")),
            "name": _recipient_name(subject),
            "hashedEmail": any(
                identity.get("identityType") == "emailAddress" and identity.get("hashed") is True
                for identity in _objects(subject.get("identifier"))
            ),
        },
        "achievement": {
            "id": _text(achievement.get("id")),
            "name": _text(achievement.get("name")),
            "description": _text(achievement.get("description")),
            "achievementType": _text(achievement.get("achievementType")),
            "criteria": _text(_object(achievement.get("criteria")).get("narrative")),
            "image": _link(_image_url(achievement.get("image"))),
        },
        "statements": [item for item in demonstrated if item][:_MAX_ITEMS],
        "evidence": [
            {
                "name": _text(item.get("name")),
                "narrative": _text(item.get("narrative")),
                "url": _link(item.get("id")),
            }
            for item in _objects(credential.get("evidence"))
        ][:_MAX_ITEMS],
        "validFrom": _text(credential.get("validFrom") or credential.get("issuanceDate")),
        "validUntil": _text(credential.get("validUntil") or credential.get("expirationDate")),
    }
    return summary


def _recipient_name(subject: dict[str, Any]) -> str | None:
    for identity in _objects(subject.get("identifier")):
        if identity.get("identityType") == "name" and identity.get("hashed") is False:
            return _text(identity.get("identityHash"))
    return _text(subject.get("name"))


def _image_url(image: Any) -> Any:
    return image.get("id") if isinstance(image, dict) else image


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    return None


def _link(value: Any) -> str | None:
    text = _text(value)
    if text and text.lower().startswith(("https://", "http://")):
        return text
    return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_object(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return next((item for item in value if isinstance(item, dict)), {})
    return _object(value)


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in _list(value) if isinstance(item, dict)][:_MAX_ITEMS]

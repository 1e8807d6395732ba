"""Verification checks, in the style of sigstore-python's policies.

Each check is a small object with a ``name`` and ``verify(context) -> None`` that raises an
``IssuerError`` with a stable code when the credential fails it, and may record a warning
on the context when it passes with a reservation. ``AllOf`` composes them in a fixed order
and refuses to be empty, so that "no checks" can never read as "verified".
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import marshal
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from issuer import schemas
from issuer.caching import BoundedCache
from issuer.errors import InvalidInput, IssuerError
from issuer.verification.reading import PresentedCredential
from issuer.verification.report import FAIL, PASS, WARN, CheckOutcome

log = logging.getLogger("issuer.verification")

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
OB_CONTEXT = re.compile(r"https://purl\.imsglobal\.org/spec/ob/v3p0/context(-3\.\d\.\d)?\.json")
CURRENT_OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES = ("OpenBadgeCredential", "AchievementCredential", "EndorsementCredential")
LEEWAY = timedelta(seconds=60)
SCHEMA_NAME = "ob3-achievement-credential"
# Schema verdicts remembered per process, by the credential's digest (SchemaCheck).
REMEMBERED_SCHEMA_VERDICTS = 4096


class CheckFailed(IssuerError):
    """The credential fails a check (the report says which, with the code)."""

    code = "check_failed"


@dataclass
class VerificationContext:
    """What the checks read (the presented credential, the clock, the e-mail to match) and
    what they leave for each other (the warnings of the check running now)."""

    presented: PresentedCredential
    now: datetime
    recipient_email: str | None = None
    own_issuer: bool = False
    notes: list[tuple[str, str]] = field(default_factory=list)
    passed_message: str | None = None
    _digest: str | None = field(default=None, repr=False)

    @property
    def credential(self) -> dict[str, Any]:
        return self.presented.credential

    def content_digest(self) -> str:
        """The credential's ``value_digest``: two credentials with one digest are the same
        value, so what a check found in one holds for the other."""
        if self._digest is None:
            self._digest = value_digest(self.credential)
        return self._digest

    def warn(self, code: str, message: str) -> None:
        """Record a reservation: the check passes, reported as ``warn`` with this code."""
        self.notes.append((code, message))

    def say(self, message: str) -> None:
        """The sentence to report when the running check passes."""
        self.passed_message = message


def value_digest(value: Any) -> str:
    """SHA-256 of ``value`` as ``marshal`` format 2 writes it: a pure function of the value
    (format 2 has no back-references, so sharing and reference counts do not show), and
    one digest means one value, since ``marshal.loads`` would make both from the same bytes.
    It tells apart what JSON tells apart (``1``, ``1.0``, ``true``, ``"1"``) and writes a
    credential some four times faster than ``json.dumps`` with sorted keys; the same members
    in another order get another digest, and are simply checked again.

    Raises ValueError for a value holding something no JSON reader makes.
    """
    return hashlib.sha256(marshal.dumps(value, 2)).hexdigest()


class Check(Protocol):
    name: str

    def verify(self, context: VerificationContext) -> None: ...


class AllOf:
    """Every check, in order. ``verify`` raises at the first failure; ``run`` runs them all
    and reports each."""

    def __init__(self, checks: Sequence[Check]) -> None:
        if not checks:
            raise ValueError("AllOf needs at least one check; an empty policy verifies nothing.")
        self._checks = tuple(checks)

    @property
    def names(self) -> list[str]:
        return [check.name for check in self._checks]

    def verify(self, context: VerificationContext) -> None:
        """Raise the first check's error. Raises IssuerError."""
        for check in self._checks:
            check.verify(context)

    def run(self, context: VerificationContext) -> list[CheckOutcome]:
        return [run_check(check, context) for check in self._checks]


def run_check(check: Check, context: VerificationContext) -> CheckOutcome:
    """Run one check and turn what happened into its outcome; never raises."""
    context.notes = []
    context.passed_message = None
    try:
        check.verify(context)
    except IssuerError as error:
        return CheckOutcome(check.name, FAIL, error.code, error.message)
    except Exception:
        # A check must never turn someone's credential into a 500; this is a bug of ours,
        # logged, and the credential is not verified.
        log.exception("The %s check crashed", check.name)
        return CheckOutcome(
            check.name, FAIL, "check_crashed", "This check could not be completed (our error)."
        )
    if context.notes:
        code, message = context.notes[0]
        extra = " ".join(note for _code, note in context.notes[1:])
        return CheckOutcome(check.name, WARN, code, f"{message} {extra}".strip())
    return CheckOutcome(check.name, PASS, "ok", context.passed_message or "Passed.")


class StructureCheck:
    """VC 2.0 (or VC 1.1) contexts in order, the credential types, an issuer, a subject."""

    name = "structure"

    def verify(self, context: VerificationContext) -> None:
        """Raises CheckFailed ``context_invalid``, ``type_invalid``, ``issuer_missing``,
        ``subject_missing`` or ``date_missing``; warns ``vc_1_1`` and
        ``context_version_old``."""
        credential = context.credential
        contexts = credential.get("@context")
        if not isinstance(contexts, list) or len(contexts) < 2:
            raise CheckFailed(
                "context_invalid",
                "The credential does not declare the Verifiable Credentials and Open Badges "
                "vocabularies (@context) it must use.",
            )
        vc_context, ob_context = contexts[0], contexts[1]
        if vc_context not in (VC_V2_CONTEXT, VC_V1_CONTEXT):
            raise CheckFailed(
                "context_invalid",
                "The first @context must be the W3C Verifiable Credentials context.",
            )
        if not isinstance(ob_context, str) or OB_CONTEXT.fullmatch(ob_context) is None:
            raise CheckFailed(
                "context_invalid", "The second @context must be the Open Badges 3.0 context."
            )
        types = credential.get("type")
        type_list = types if isinstance(types, list) else [types]
        if "VerifiableCredential" not in type_list or not any(
            name in type_list for name in CREDENTIAL_TYPES
        ):
            raise CheckFailed(
                "type_invalid",
                "The credential is not typed as an Open Badges credential "
                "(VerifiableCredential and OpenBadgeCredential).",
            )
        issuer = credential.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
        if not isinstance(issuer_id, str) or not issuer_id:
            raise CheckFailed("issuer_missing", "The credential does not say who issued it.")
        subject = credential.get("credentialSubject")
        if not isinstance(subject, dict) or not (
            isinstance(subject.get("id"), str) or isinstance(subject.get("identifier"), list)
        ):
            raise CheckFailed(
                "subject_missing", "The credential does not say to whom it was awarded."
            )
        vc1 = vc_context == VC_V1_CONTEXT
        date_member = "issuanceDate" if vc1 else "validFrom"
        if not isinstance(credential.get(date_member), str):
            raise CheckFailed("date_missing", f"The credential has no {date_member}.")
        if vc1:
            context.warn(
                "vc_1_1",
                "The credential uses the older Verifiable Credentials 1.1 data model.",
            )
        elif ob_context != CURRENT_OB_CONTEXT:
            context.warn(
                "context_version_old",
                f"The credential uses an older Open Badges 3.0 context ({ob_context[-18:]}).",
            )
        context.say("The credential is shaped like an Open Badges 3.0 credential.")


class SchemaCheck:
    """The Open Badges 3.0 information model's rules (our own JSON Schema).

    Whether a JSON value follows a schema depends on the value alone, so the verdict is
    remembered by the value's digest: a credential verified again (the same bytes sent
    twice, or our own credential's page) is not walked again.
    """

    name = "schema"

    def __init__(self) -> None:
        # By digest: None when the credential follows the schema, else (message, details).
        self._verdicts: BoundedCache[str, tuple[str | None, Any]] = BoundedCache(
            REMEMBERED_SCHEMA_VERDICTS
        )

    def verify(self, context: VerificationContext) -> None:
        """Raises CheckFailed ``schema_invalid`` naming the JSON path of the first problem."""
        message, details = self._verdicts.get_or_make(
            context.content_digest(), lambda: _schema_verdict(context.credential)
        )
        if message is not None:
            raise CheckFailed(
                "schema_invalid",
                f"The credential breaks the Open Badges 3.0 rules at {message}",
                copy.deepcopy(details),
            )
        context.say("Every part of the credential follows the Open Badges 3.0 rules.")


def _schema_verdict(credential: dict[str, Any]) -> tuple[str | None, Any]:
    try:
        schemas.check(SCHEMA_NAME, credential, error=InvalidInput, code="schema_invalid")
    except InvalidInput as error:
        return error.message, error.details
    return None, None


class ValidityCheck:
    """Not before ``validFrom``, not after ``validUntil``, with 60 s of clock leeway."""

    name = "validity"

    def verify(self, context: VerificationContext) -> None:
        """Raises CheckFailed ``date_invalid``, ``not_yet_valid`` or ``expired``."""
        credential = context.credential
        start_member, end_member = (
            ("issuanceDate", "expirationDate")
            if "validFrom" not in credential and "issuanceDate" in credential
            else ("validFrom", "validUntil")
        )
        valid_from = _moment(credential.get(start_member), start_member, required=True)
        valid_until = _moment(credential.get(end_member), end_member, required=False)
        if valid_from is not None and context.now + LEEWAY < valid_from:
            raise CheckFailed(
                "not_yet_valid",
                f"The credential is not valid yet: it becomes valid on {_day(valid_from)}.",
            )
        if valid_until is not None and context.now - LEEWAY > valid_until:
            raise CheckFailed("expired", f"The credential expired on {_day(valid_until)}.")
        if valid_until is not None:
            context.say(f"Valid from {_day(valid_from)} until {_day(valid_until)}.")
        else:
            context.say(f"Valid since {_day(valid_from)}, with no end date.")


class RecipientCheck:
    """The e-mail address someone typed matches the credential's hashed (or plain) one."""

    name = "recipient"

    def verify(self, context: VerificationContext) -> None:
        """Raises CheckFailed ``recipient_unknown`` or ``recipient_mismatch``."""
        email = (context.recipient_email or "").strip()
        subject = context.credential.get("credentialSubject")
        subject = subject if isinstance(subject, dict) else {}
        identities = subject.get("identifier")
        identities = identities if isinstance(identities, list) else []
        candidates = list(dict.fromkeys([email, email.lower()]))
        emails = [
            identity
            for identity in identities
            if isinstance(identity, dict) and identity.get("identityType") == "emailAddress"
        ]
        subject_id = subject.get("id")
        if isinstance(subject_id, str) and subject_id.lower() == f"mailto:{email.lower()}":
            context.say("The e-mail address matches the earner's.")
            return
        if not emails:
            raise CheckFailed(
                "recipient_unknown",
                "The credential does not name its earner by e-mail, so the address cannot be "
                "compared.",
            )
        for identity in emails:
            if _identity_matches(identity, candidates):
                context.say("The e-mail address matches the one the badge was awarded to.")
                return
        raise CheckFailed(
            "recipient_mismatch",
            "The e-mail address does not match the one the badge was awarded to.",
        )


def _identity_matches(identity: dict[str, Any], candidates: list[str]) -> bool:
    stored = identity.get("identityHash")
    if not isinstance(stored, str):
        return False
    if identity.get("hashed") is not True:
        return any(stored.strip().lower() == candidate.lower() for candidate in candidates)
    algorithm, _, digest = stored.partition("$")
    if algorithm.lower() != "sha256" or not digest:
        return False
    salt = identity.get("salt")
    salt = salt if isinstance(salt, str) else ""
    for candidate in candidates:
        computed = hashlib.sha256((candidate + salt).encode("utf-8")).hexdigest()
        if hmac.compare_digest(computed, digest.lower()):
            return True
    return False


def _moment(value: Any, member: str, *, required: bool) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise CheckFailed("date_invalid", f"The credential's {member} is missing or not a date.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CheckFailed("date_invalid", f"The credential's {member} is not a date.") from None
    if moment.tzinfo is None:
        raise CheckFailed("date_invalid", f"The credential's {member} has no time zone.")
    return moment


def _day(moment: datetime | None) -> str:
    return moment.strftime("%d %B %Y") if moment is not None else "an unknown date"

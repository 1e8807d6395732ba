"""What earners do with a credential: its page (public or hidden), the signed settings link,
and the facts the page shows (status, sharing links). No Flask here.

The settings link is the earner's only key to the page settings (earners have no accounts):
it is signed with the service's secret key and a salt of its own, so it cannot be forged,
cannot be mistaken for another signed value, and expires.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Literal
from urllib.parse import quote, urlencode

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select, update

from issuer.caching import BoundedCache
from issuer.errors import Forbidden, NotFound
from issuer.issuance import IssuanceService, IssuedAward
from issuer.revocation import CredentialStatus, RevocationService
from issuer.storage import Database, is_uuid
from issuer.storage.models import IssuedCredential, Revocation
from issuer.verification import VerificationReport

SETTINGS_SALT = "issuer.earner.page-settings.v1"
# A year: long enough to find the award e-mail again, short enough that a leaked old mail
# stops working. An expired link is answered with a page that says so.
SETTINGS_LINK_LIFETIME = timedelta(days=365)
LINKEDIN_ADD_TO_PROFILE = "https://www.linkedin.com/profile/add"
# Each network's documented "share this link" address (no script of theirs on our page).
LINKEDIN_SHARE = "https://www.linkedin.com/sharing/share-offsite/"
X_POST = "https://x.com/intent/post"
FACEBOOK_SHARE = "https://www.facebook.com/sharer/sharer.php"

StatusWord = Literal["valid", "expired", "revoked", "not_yet_valid", "invalid", "unchecked"]
# Verification reports of credential pages, remembered per process (issuer.caching): only
# a report that verified, for a credential the database holds valid (not revoked, within its
# dates), and for REPORT_SECONDS at most, after which our keys and signed status list are
# read again. The credential's bytes never change.
REMEMBERED_REPORTS = 4096
REPORT_SECONDS = 300.0


@dataclass(frozen=True)
class PageStatus:
    """The credential's standing when the page is served, in one word and one sentence."""

    word: StatusWord
    sentence: str
    revoked_at: datetime | None = None
    reason: str | None = None


_PAGE_VIEW = (
    select(
        IssuedCredential.id,
        IssuedCredential.credential_json,
        IssuedCredential.jwt,
        IssuedCredential.achievement,
        IssuedCredential.recipient_name,
        IssuedCredential.issued_at,
        IssuedCredential.valid_until,
        IssuedCredential.page_hidden,
        Revocation.credential_id.label("revoked_id"),
        Revocation.revoked_at,
        Revocation.reason,
    )
    .outerjoin(Revocation, Revocation.credential_id == IssuedCredential.id)
    .where(IssuedCredential.id == bindparam("credential_id"))
)


@dataclass(frozen=True)
class PageView:
    """A credential whose page is shown, and its standing, from one database read."""

    issued: IssuedAward
    status: PageStatus


class SettingsLinks:
    """Signs and reads the token of an earner's settings link."""

    def __init__(
        self,
        secret_key: str,
        *,
        lifetime: timedelta = SETTINGS_LINK_LIFETIME,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._serializer = URLSafeSerializer(secret_key, salt=SETTINGS_SALT)
        self._lifetime = lifetime
        self._clock = clock

    def token(self, credential_id: str, *, now: datetime | None = None) -> str:
        """A token for ``credential_id``'s settings, issued ``now``."""
        issued = int((now or self._clock()).timestamp())
        return str(self._serializer.dumps({"credential": credential_id, "issued": issued}))

    def read(self, token: str, credential_id: str) -> None:
        """Check that ``token`` opens the settings of ``credential_id`` now.

        Raises Forbidden ``settings_link_invalid`` (tampered, or for another credential)
        and ``settings_link_expired``.
        """
        try:
            payload: Any = self._serializer.loads(token)
        except BadSignature:
            raise Forbidden(
                "settings_link_invalid",
                "This settings link is not valid: it may have been cut short or changed. "
                "Open the link exactly as it is in your award e-mail.",
            ) from None
        if (
            not isinstance(payload, dict)
            or payload.get("credential") != credential_id
            or not isinstance(payload.get("issued"), int)
        ):
            raise Forbidden(
                "settings_link_invalid", "This settings link belongs to another credential."
            )
        issued = datetime.fromtimestamp(payload["issued"], UTC)
        if self._clock() - issued > self._lifetime:
            raise Forbidden(
                "settings_link_expired",
                "This settings link has expired. Ask the issuer to send you a new one.",
            )


class EarnerService:
    """The credential page: whether it is shown, and the facts it shows."""

    def __init__(
        self,
        db: Database,
        issuance: IssuanceService,
        revocation: RevocationService,
        links: SettingsLinks,
        *,
        base_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._db = db
        self._issuance = issuance
        self._revocation = revocation
        self.links = links
        self._base_url = base_url
        self._clock = clock
        self._reports: BoundedCache[str, VerificationReport] = BoundedCache(
            REMEMBERED_REPORTS, seconds=REPORT_SECONDS
        )

    def page_url(self, credential_id: str) -> str:
        return f"{self._base_url}/credentials/{credential_id}"

    def settings_url(self, credential_id: str) -> str:
        token = self.links.token(credential_id)
        return f"{self.page_url(credential_id)}/settings?{urlencode({'token': token})}"

    def public_page(self, credential_id: str) -> IssuedAward:
        """The credential whose page is shown to anyone with the link.

        Raises NotFound ``credential_not_found`` for an unknown id and for a hidden page
        (the same answer, so that a hidden page does not reveal that it exists).
        """
        return self.page_view(credential_id).issued

    def page_view(self, credential_id: str) -> PageView:
        """The credential whose page is shown, with its revocation and dates as of now, in
        one read of the database.

        Raises NotFound ``credential_not_found`` for an unknown id and for a hidden page.
        """
        if not is_uuid(credential_id):
            raise NotFound("credential_not_found", "There is no such credential.")
        # One statement built once: a page view is mostly this read.
        with self._db.read_connection() as connection:
            row = connection.execute(_PAGE_VIEW, {"credential_id": credential_id}).first()
        if row is None or row.page_hidden:
            raise NotFound("credential_not_found", "There is no such credential.")
        issued = IssuedAward(
            id=row.id,
            credential=json.loads(row.credential_json),
            credential_json=row.credential_json,
            jwt=row.jwt,
            achievement=row.achievement,
            recipient_name=row.recipient_name,
            issued_at=row.issued_at,
            valid_until=row.valid_until,
        )
        revocation = CredentialStatus(
            revoked=row.revoked_id is not None, revoked_at=row.revoked_at, reason=row.reason
        )
        return PageView(issued, self._standing(issued, revocation))

    def page_report(
        self,
        view: PageView,
        verify: Callable[[dict[str, Any]], VerificationReport],
    ) -> VerificationReport:
        """Our verifier's report on the stored credential of ``view`` (``verify`` runs it).

        While the database holds the credential valid (not revoked, within its dates), a
        report that verified is remembered for ``REPORT_SECONDS``, so that a page view does
        not canonicalize the credential again; any other standing or report is made anew
        on every view, and a revocation or expiry is seen at once. Raises as ``verify``.
        """
        if view.status.word != "valid":
            return verify(view.issued.credential)
        report = self._reports.get(view.issued.id)
        if report is None:
            report = verify(view.issued.credential)
            if report.verified:
                self._reports.put(view.issued.id, report)
        return report

    def is_hidden(self, credential_id: str) -> bool:
        """Whether the earner hid the page. Raises NotFound ``credential_not_found``."""
        with self._db.read() as session:
            record = session.get(IssuedCredential, credential_id)
        if record is None:
            raise NotFound("credential_not_found", "There is no such credential.")
        return bool(record.page_hidden)

    def set_hidden(self, credential_id: str, token: str, hidden: bool) -> None:
        """Show or hide the page, on the authority of a settings link ``token``.

        Raises Forbidden ``settings_link_invalid`` / ``settings_link_expired`` and NotFound
        ``credential_not_found``.
        """
        self.links.read(token, credential_id)
        with self._db.write() as session:
            result = session.execute(
                update(IssuedCredential)
                .where(IssuedCredential.id == credential_id)
                .values(page_hidden=hidden)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("credential_not_found", "There is no such credential.")

    def status(self, issued: IssuedAward) -> PageStatus:
        """Revoked (with the reason), expired, not yet valid or valid, as of now.

        Raises NotFound ``credential_not_found``.
        """
        return self._standing(issued, self._revocation.status_of(issued.id))

    def _standing(self, issued: IssuedAward, revocation: CredentialStatus) -> PageStatus:
        if revocation.revoked:
            when = revocation.revoked_at.strftime("%d %B %Y") if revocation.revoked_at else ""
            return PageStatus(
                "revoked",
                f"Revoked by the issuer on {when}.".replace(" on .", "."),
                revoked_at=revocation.revoked_at,
                reason=revocation.reason,
            )
        now = self._clock()
        if issued.valid_until is not None and issued.valid_until <= now:
            return PageStatus("expired", f"Expired on {issued.valid_until.strftime('%d %B %Y')}.")
        if issued.issued_at > now:
            return PageStatus("not_yet_valid", "Not valid yet.")
        return PageStatus("valid", "Genuine, not revoked and not expired.")


def linkedin_add_url(
    *,
    name: str,
    organization_name: str,
    issued: datetime,
    expires: datetime | None,
    cert_url: str,
    cert_id: str,
) -> str:
    """LinkedIn's documented "Add to profile" link, prefilled for a certification.

    The parameters are those of LinkedIn's Add to Profile page: ``startTask``,
    ``name``, ``organizationName`` (or ``organizationId``), ``issueYear``/``issueMonth``,
    ``expirationYear``/``expirationMonth``, ``certUrl`` and ``certId``.
    """
    parameters: dict[str, str | int] = {
        "startTask": "CERTIFICATION_NAME",
        "name": name,
        "organizationName": organization_name,
        "issueYear": issued.year,
        "issueMonth": issued.month,
    }
    if expires is not None:
        parameters["expirationYear"] = expires.year
        parameters["expirationMonth"] = expires.month
    parameters["certUrl"] = cert_url
    parameters["certId"] = cert_id
    return f"{LINKEDIN_ADD_TO_PROFILE}?{urlencode(parameters)}"


@dataclass(frozen=True)
class ShareLink:
    label: str
    url: str


def share_links(*, page_url: str, achievement_name: str, issuer_name: str) -> list[ShareLink]:
    """Links that open each network's own share form with the page's link filled in: a
    LinkedIn post, X, Facebook, and an e-mail in the earner's mail program."""
    sentence = f"I earned the Open Badge “{achievement_name}” from {issuer_name}."
    # mailto: wants %20 for spaces (RFC 6068), not the "+" of form encoding.
    subject = quote(f"My Open Badge: {achievement_name}", safe="")
    body = quote(f"{sentence}\n\nAnyone can check it is genuine here: {page_url}", safe="")
    return [
        ShareLink("LinkedIn post", f"{LINKEDIN_SHARE}?{urlencode({'url': page_url})}"),
        ShareLink("X", f"{X_POST}?{urlencode({'text': sentence, 'url': page_url})}"),
        ShareLink("Facebook", f"{FACEBOOK_SHARE}?{urlencode({'u': page_url})}"),
        ShareLink("E-mail", f"mailto:?subject={subject}&body={body}"),
    ]


def embed_snippet(*, page_url: str, image_url: str, alt: str, caption: str, size: int) -> str:
    """HTML to put the badge on a web page or in an e-mail signature: the badge image, at
    ``size`` pixels, and a caption, both linking back to the badge's page. No style
    attributes or scripts, so it works wherever HTML is allowed."""
    link = escape(page_url, quote=True)
    return (
        f'<a href="{link}"><img src="{escape(image_url, quote=True)}" '
        f'alt="{escape(alt, quote=True)}" width="{size}" height="{size}"></a><br>'
        f'<a href="{link}">{escape(caption)}</a>'
    )

"""Verification of any Open Badges 3.0 credential: ours locally, anyone else's over https.

``VerificationService`` reads what someone presents (``reading``), runs a fixed pipeline of
checks (``checks``, ``proof``, ``status``) and returns a ``VerificationReport``
(``report``). ``build_for(services, config)`` wires it to this issuer's keys and status
lists.
"""

from __future__ import annotations

import json
from typing import Any

from issuer.errors import NotFound
from issuer.verification.report import CheckOutcome, VerificationReport
from issuer.verification.service import OwnCredentialSource, VerificationService
from issuer.verification.status import StatusListSource, StatusUnavailable

__all__ = ["CheckOutcome", "VerificationReport", "VerificationService", "build_for"]


def build_for(services: Any, config: Any) -> VerificationService:
    """The verification service of a running issuer (``issuer.services.Services``).

    Raises InvalidInput ``fetch_allow_hosts_invalid`` for a bad ``ISSUER_FETCH_ALLOW_HOSTS``.
    """
    return VerificationService.build(
        own_did=services.issuer_profile.id,
        own_keys=services.keys.public_keys,
        base_url=services.base_url,
        allow_hosts=config.get("FETCH_ALLOW_HOSTS"),
        own_status_list=_own_status_lists(services),
        own_credentials=_own_credentials(services),
        max_json_depth=int(config.get("MAX_JSON_DEPTH", 32)),
    )


def _own_credentials(services: Any) -> OwnCredentialSource:
    """Our credentials, by any of their links, straight from storage: the VC-JWT for the
    ``.jwt`` link, the Data Integrity credential for the page and every other form. A link
    to a hidden page is not found, as when it is fetched."""
    prefix = f"{services.base_url}/credentials/"

    def credential(url: str) -> bytes | None:
        if not url.startswith(prefix):
            return None
        name = url[len(prefix) :].split("#", 1)[0].split("?", 1)[0]
        credential_id, dot, form = name.partition(".")
        if dot and form not in ("json", "jwt", "png", "svg"):
            raise NotFound("credential_not_found", "There is no such credential.")
        issued = services.earner.public_page(credential_id)  # a hidden one is not found
        if form == "jwt":
            return str(issued.jwt).encode("ascii")
        return json.dumps(issued.credential, ensure_ascii=False).encode("utf-8")

    return credential


def _own_status_lists(services: Any) -> StatusListSource | None:
    """Our own status list credentials straight from the revocation service, if there is one."""
    revocation = getattr(services, "revocation", None)
    if revocation is None:
        return None
    prefix = f"{services.base_url}/status/"

    def status_list(url: str) -> dict[str, Any]:
        list_id = url[len(prefix) :].split("#", 1)[0].split("?", 1)[0]
        document = revocation.list_credential(list_id, "json")
        if not isinstance(document, dict):
            raise StatusUnavailable("status_list_invalid", "Our status list is not a document.")
        return document

    return status_list

"""Who a good signature proves the issuer to be: never the name the issuer gives itself.

Anyone can sign a credential that copies our name, our URL and our achievement ids; the
name is a claim. What a valid proof establishes depends on the issuer's identifier:

- this service's own DID: the credential is ours;
- ``did:web`` or an https URL: the key was published on that domain, so the signer
  controls it (the domain is the proven identity, to be read by a person);
- anything else (``did:key``, ``did:jwk``, a bare ``jwk``): the signature is valid, but it
  ties the credential only to a key, which anyone can make; the issuer's identity is not
  established.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from issuer.did_resolution import KeyResolutionError, did_web_url

Standing = Literal["ours", "domain", "unestablished"]


@dataclass(frozen=True)
class IssuerIdentity:
    """What is proven of the issuer: ``standing``, and for a domain, which one."""

    standing: Standing
    issuer_id: str
    domain: str | None = None

    def describe(self) -> str:
        """Who signed, in a few plain words."""
        if self.standing == "ours":
            return f"this service ({self.domain})" if self.domain else "this service"
        if self.standing == "domain":
            return f"the holder of {self.domain}"
        return "not established: the key is not tied to any website"

    def as_json(self) -> dict[str, str | None]:
        return {"standing": self.standing, "id": self.issuer_id, "domain": self.domain}


def proven_identity(issuer_id: str, *, own_did: str) -> IssuerIdentity:
    """The identity a verified proof by ``issuer_id``'s key establishes (module docstring)."""
    if issuer_id == own_did:
        return IssuerIdentity("ours", issuer_id, _domain_of_did_web(issuer_id))
    if issuer_id.startswith("did:web:"):
        domain = _domain_of_did_web(issuer_id)
        if domain is not None:
            return IssuerIdentity("domain", issuer_id, domain)
    elif issuer_id.startswith("https://"):
        host = urlsplit(issuer_id).hostname
        if host:
            return IssuerIdentity("domain", issuer_id, host)
    return IssuerIdentity("unestablished", issuer_id)


def _domain_of_did_web(did: str) -> str | None:
    """``example.org`` (with its port or path, when the DID has them) for a did:web."""
    try:
        url = urlsplit(did_web_url(did))
    except (KeyResolutionError, ValueError):
        return None
    path = url.path.removesuffix("/.well-known/did.json").removesuffix("/did.json")
    return f"{url.netloc}{path}"

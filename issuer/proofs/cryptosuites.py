"""Which module verifies a ``DataIntegrityProof``: one entry per cryptosuite.

Each suite verifies one proof with a public key the caller has already bound to the issuer
(``issuer.verification.proof``); the key's type must be the suite's, so a key can never be
used with a suite it was not made for. The older Ed25519 forms (``eddsa-2022``,
``Ed25519Signature2020``) are not here: they are read by the proof check, which warns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from issuer.errors import ProofError
from issuer.proofs import data_integrity, ecdsa_rdfc_2019, ecdsa_sd_2023


@dataclass(frozen=True)
class Cryptosuite:
    """A suite's name, the key type it verifies with, and its ``verify_proof``."""

    name: str
    key_type: type[Any]
    key_description: str
    verify_proof: Callable[[dict[str, Any], Any], None]


SUITES: dict[str, Cryptosuite] = {
    suite.name: suite
    for suite in (
        Cryptosuite(
            data_integrity.CRYPTOSUITE,
            ed25519.Ed25519PublicKey,
            "an Ed25519 key",
            data_integrity.verify_proof,
        ),
        Cryptosuite(
            ecdsa_rdfc_2019.CRYPTOSUITE,
            ec.EllipticCurvePublicKey,
            "a P-256 or P-384 key",
            ecdsa_rdfc_2019.verify_proof,
        ),
        Cryptosuite(
            ecdsa_sd_2023.CRYPTOSUITE,
            ec.EllipticCurvePublicKey,
            "a P-256 key",
            ecdsa_sd_2023.verify_proof,
        ),
    )
}


def suite_named(name: Any) -> Cryptosuite:
    """The suite called ``name``.

    Raises:
        ProofError: ``cryptosuite_unsupported``.
    """
    suite = SUITES.get(name) if isinstance(name, str) else None
    if suite is None:
        raise ProofError(
            "cryptosuite_unsupported",
            f"The signature suite {str(name)[:60]!r} is not one this service can check "
            f"({', '.join(SUITES)}).",
        )
    return suite


def verify_proof(secured: dict[str, Any], proof: dict[str, Any], public_key: Any) -> None:
    """Verify one ``proof`` of ``secured`` (the others left out) with the issuer's key.

    Raises:
        ProofError: ``cryptosuite_unsupported``; ``key_type_invalid`` when the key is not
            of the suite's type; and whatever the suite's ``verify_proof`` raises.
        CanonicalizationError: as the suite's ``verify_proof``.
    """
    suite = suite_named(proof.get("cryptosuite"))
    if not isinstance(public_key, suite.key_type):
        raise ProofError("key_type_invalid", f"A {suite.name} proof needs {suite.key_description}.")
    suite.verify_proof({**secured, "proof": [proof]}, public_key)

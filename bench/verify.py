"""Verification throughput for our own credentials, on one core.

Issues one credential, then verifies it ``--count`` times through the verification service
in each form (Data Integrity JSON, VC-JWT), with every check the API runs (structure, schema,
proof, status list, validity). Prints verifications per second, where the time goes, and the
ratio to the bare signature verification each form needs (one Ed25519 verification; one
RS256 or ES256 verification). Beside eddsa-rdfc-2022, the other issuers' cryptosuites are
measured on the reference vectors in ``tests/vectors`` (a did:key issuer, so nothing is
fetched): ecdsa-rdfc-2019 on P-256 and P-384 (one ECDSA verification each) and an
ecdsa-sd-2023 derived proof (one P-256 verification per statement shown, plus the base).

    .venv/bin/python bench/verify.py [--count 300] [--jwt-algorithm RS256|ES256]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from harness import per_call, pin_to_one_core, report, start_service

from issuer.proofs import ecdsa_sd_2023, vc_jwt
from issuer.verification import build_for

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "vectors"
ECDSA_VECTORS = {
    "ecdsa-rdfc-2019 P-256": ("ecdsa-rdfc-2019/signed-p256.json", ec.SECP256R1(), hashes.SHA256()),
    "ecdsa-rdfc-2019 P-384": ("ecdsa-rdfc-2019/signed-p384.json", ec.SECP384R1(), hashes.SHA384()),
    "ecdsa-sd-2023 P-256": (
        "ecdsa-sd-2023/derived-credential.json",
        ec.SECP256R1(),
        hashes.SHA256(),
    ),
}

AWARD = {
    "achievement": "computer-user-support-specialists/proficient",
    "recipient": {"email": "earner@example.org", "name": "Earner"},
}


def paired_ratio(
    measured: Callable[[], object], bare: Callable[[], object], count: int, rounds: int = 7
) -> tuple[float, float, float]:
    """The median over ``rounds`` of (``measured`` per call / ``bare`` per call), each round
    timing both back to back, so that a machine whose speed drifts (it is shared) shifts
    both sides of a ratio alike; with the median seconds per call of each."""
    pairs = [(per_call(measured, count), per_call(bare, count)) for _ in range(rounds)]
    return (
        statistics.median(full / floor for full, floor in pairs),
        statistics.median(full for full, _ in pairs),
        statistics.median(floor for _, floor in pairs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--jwt-algorithm", default="RS256", choices=["RS256", "ES256"])
    arguments = parser.parse_args()
    pin_to_one_core()
    bench = start_service("verify", JWT_ALGORITHM=arguments.jwt_algorithm)
    app, services = bench.app, bench.services
    issued = services.issuance.award(bench.assessor, AWARD)
    count = arguments.count

    with app.app_context():
        service = build_for(services, app.config)
        for form, verify in (
            ("Data Integrity", lambda: service.verify_document(issued.credential)),
            (f"VC-JWT {arguments.jwt_algorithm}", lambda: service.verify_jwt(issued.jwt)),
        ):
            assert verify().verified, form
        ring = services.keyring()
        eddsa = ring.signing_key("EdDSA")
        jwt_key = ring.signing_key(arguments.jwt_algorithm)
        message = b"x" * 64
        ed_signature = eddsa.private_key.sign(message)
        # The token's own signed part (header.payload, some 16 kB): its signature check
        # also hashes those bytes, which the 64-byte bare check does not.
        signed_part = issued.jwt.rsplit(".", 1)[0].encode("ascii")
        if arguments.jwt_algorithm == "RS256":
            jwt_signature = jwt_key.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            signed_signature = jwt_key.private_key.sign(
                signed_part, padding.PKCS1v15(), hashes.SHA256()
            )

            def bare_jwt() -> None:
                jwt_key.public_key.verify(
                    jwt_signature, message, padding.PKCS1v15(), hashes.SHA256()
                )

            def bare_jwt_signed_part() -> None:
                jwt_key.public_key.verify(
                    signed_signature, signed_part, padding.PKCS1v15(), hashes.SHA256()
                )
        else:
            jwt_signature = jwt_key.private_key.sign(message, ec.ECDSA(hashes.SHA256()))
            signed_signature = jwt_key.private_key.sign(signed_part, ec.ECDSA(hashes.SHA256()))

            def bare_jwt() -> None:
                jwt_key.public_key.verify(jwt_signature, message, ec.ECDSA(hashes.SHA256()))

            def bare_jwt_signed_part() -> None:
                jwt_key.public_key.verify(signed_signature, signed_part, ec.ECDSA(hashes.SHA256()))

        bare = {
            "Data Integrity": per_call(
                lambda: eddsa.public_key.verify(ed_signature, message), count * 10
            ),
            f"VC-JWT {arguments.jwt_algorithm}": per_call(bare_jwt, count * 10),
        }
        full = {
            "Data Integrity": per_call(lambda: service.verify_document(issued.credential), count),
            f"VC-JWT {arguments.jwt_algorithm}": per_call(
                lambda: service.verify_jwt(issued.jwt), count
            ),
        }
        # The VC-JWT's securing alone (read the compact JWS, check the signature with the
        # issuer's key, the claims against the credential), without the other checks.
        jwt_public = next(key for key in ring.public_keys() if key.kid == jwt_key.kid)
        jwt_proof_ratio, jwt_proof, jwt_proof_bare = paired_ratio(
            lambda: vc_jwt.verify_vc_jwt(issued.jwt, lambda kid: jwt_public), bare_jwt, count
        )
        signed_part_ratio, _, _ = paired_ratio(bare_jwt_signed_part, bare_jwt, count)
        status_list_alone = per_call(lambda: services.revocation.list_credential("1"), count)
        for form, (name, curve, digest) in ECDSA_VECTORS.items():
            credential = json.loads((VECTORS / name).read_text())
            assert service.verify_document(credential).verified, form
            full[form] = per_call(
                lambda credential=credential: service.verify_document(credential), count
            )
            private_key = ec.generate_private_key(curve)
            signature = private_key.sign(message, ec.ECDSA(digest))
            public_key = private_key.public_key()
            signatures = 1
            if "sd-2023" in form:
                derived = ecdsa_sd_2023.parse_derived_proof_value(credential["proof"]["proofValue"])
                signatures += len(derived.signatures)
            bare[form] = signatures * per_call(
                lambda public_key=public_key, signature=signature, digest=digest: public_key.verify(
                    signature, message, ec.ECDSA(digest)
                ),
                count * 10,
            )

    print(f"Verifying our own credentials, {count} each, one core:")
    for form, seconds in full.items():
        if form == next(iter(ECDSA_VECTORS)):
            print(
                "Other issuers' cryptosuites (reference vectors: did:key issuer, no status list):"
            )
        print(
            f"  {form:<22} {1 / seconds:8.1f} verifications/s  ({seconds * 1000:6.2f} ms each; "
            f"bare signature check {bare[form] * 1e6:7.1f} µs, ratio {seconds / bare[form]:7.0f}x)"
        )
    print(
        f"  VC-JWT proof alone (vc_jwt.verify_vc_jwt): {jwt_proof * 1e6:.0f} µs, "
        f"{jwt_proof_ratio:.2f}x the bare verify ({jwt_proof_bare * 1e6:.1f} µs; median of "
        f"7 paired rounds; target <= 2x)"
    )
    print(
        f"  (the bare verify over the token's own {len(signed_part)}-byte signed part: "
        f"{signed_part_ratio:.2f}x the 64-byte one)"
    )
    print(f"  (reading our own signed status list: {status_list_alone * 1000:.2f} ms per call)")
    report(
        "VC-JWT securing (`verify_vc_jwt`) / a bare signature verify",
        f"{jwt_proof * 1e6:.0f} µs",
        f"{jwt_proof_ratio:.2f}x the bare verify",
        "<= 2x",
    )


if __name__ == "__main__":
    main()

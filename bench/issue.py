"""Issuing throughput: 1,000 awards on one core, through the domain service and the HTTP API.

An award is the whole of it: the signed credential, its audit record and the earner's
message in the outbox, stored in one transaction (the message is then written out by the
delivery thread, on the same core).

Prints credentials per second, where the time goes (building, schema check,
canonicalization, signatures, storage), the ratio to the bare signature operations each
credential contains (one Ed25519 signature for the Data Integrity proof and one RS256 or
ES256 signature for the VC-JWT), and the peak memory of the process.

    .venv/bin/python bench/issue.py [--count 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import resource
import uuid
from datetime import UTC, datetime

from harness import bare_sqlite_commit, per_call, pin_to_one_core, report, start_service

from issuer import schemas, status_list
from issuer.awarding import Award, build_credential
from issuer.errors import InvalidInput
from issuer.proofs import data_integrity, fast_canonical, vc_jwt

ACHIEVEMENT = "computer-user-support-specialists/proficient"


def award_request(number: int) -> dict[str, object]:
    return {
        "achievement": ACHIEVEMENT,
        "recipient": {"email": f"earner{number}@example.org", "name": f"Earner {number}"},
        "evidence": [{"narrative": "Resolved a network outage.", "url": "https://example.org/e"}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--jwt-algorithm", default="RS256", choices=["RS256", "ES256"])
    arguments = parser.parse_args()
    pin_to_one_core()
    bench = start_service(
        "issue", database_url=arguments.database_url, JWT_ALGORITHM=arguments.jwt_algorithm
    )
    app, services, token, assessor = bench.app, bench.services, bench.token, bench.assessor
    count = arguments.count

    framework, _, level = ACHIEVEMENT.partition("/")
    template = services.catalog.get(framework, level)
    ring = services.keyring()
    eddsa = ring.signing_key("EdDSA")
    jwt_key = ring.signing_key(arguments.jwt_algorithm)
    now = datetime.now(UTC)

    def build() -> dict[str, object]:
        return build_credential(
            template,
            Award(achievement=ACHIEVEMENT, recipient_email="a@example.org", recipient_name="A"),
            issuer=services.issuer_profile,
            base_url=services.base_url,
            now=now,
            credential_id=uuid.uuid4(),
            subject_id=uuid.uuid4(),
            salt="0123456789abcdef",
        )

    unsigned = build()
    # As issuance does: the status entry is part of what is checked and signed.
    unsigned["credentialStatus"] = status_list.status_entry(f"{services.base_url}/status/1", 12345)
    proof_options = {
        "type": "DataIntegrityProof",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": eddsa.kid,
        "cryptosuite": "eddsa-rdfc-2022",
        "proofPurpose": "assertionMethod",
    }
    digest = bytes(64)
    split = {
        "build credential": per_call(build, count),
        "schema check": per_call(
            lambda: schemas.check(
                "open-badge-credential", unsigned, error=InvalidInput, code="credential_invalid"
            ),
            count,
        ),
        "canonicalize + hash (RDFC-1.0, pyld)": per_call(
            lambda: data_integrity.signing_input(unsigned, proof_options), count
        ),
        "canonicalize + hash (RDFC-1.0, fast path)": per_call(
            lambda: data_integrity.signing_input(
                unsigned, proof_options, canonicalizer=fast_canonical.canonicalize
            ),
            count,
        ),
        "Ed25519 signature": per_call(lambda: eddsa.private_key.sign(digest), count),
        f"VC-JWT ({arguments.jwt_algorithm}, encode + sign)": per_call(
            lambda: vc_jwt.sign_vc_jwt(unsigned, jwt_key), count
        ),
    }
    if arguments.jwt_algorithm == "RS256":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        bare_jwt = per_call(
            lambda: jwt_key.private_key.sign(digest, padding.PKCS1v15(), hashes.SHA256()), count
        )
    else:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        bare_jwt = per_call(
            lambda: jwt_key.private_key.sign(digest, ec.ECDSA(hashes.SHA256())), count
        )

    created = datetime.now(UTC)
    add_proof = {
        engine_name: per_call(
            lambda canonicalizer=canonicalizer: data_integrity.add_proof(
                unsigned,
                private_key=eddsa.private_key,
                verification_method=eddsa.kid,
                created=created,
                canonicalizer=canonicalizer,
            ),
            count,
        )
        for engine_name, canonicalizer in (
            ("fast path", fast_canonical.canonicalize),
            ("pyld", data_integrity.canonicalize),
        )
    }
    numbers = iter(range(10**9))
    service = per_call(
        lambda: services.award(
            assessor,
            award_request(next(numbers)),
            actor=assessor.email,
            address=None,
            details={"via": "bench"},
        ),
        count,
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    http = per_call(
        lambda: (
            client.post(
                "/api/v1/awards", json=award_request(next(numbers)), headers=headers
            ).status_code
        ),
        count,
    )
    # The service signs with the fast path; pyld's figure is shown beside it, not counted.
    reference = split.pop("canonicalize + hash (RDFC-1.0, pyld)")
    commit = bare_sqlite_commit(bench.workdir, count)
    bare = split["Ed25519 signature"] + bare_jwt
    accounted = sum(split.values())

    print(f"Issuing {count} credentials on one core ({services.db.engine.dialect.name}):")
    print(f"  domain service : {1 / service:8.1f} credentials/s  ({service * 1000:.2f} ms each)")
    print(f"  HTTP API       : {1 / http:8.1f} credentials/s  ({http * 1000:.2f} ms each)")
    print("Where one credential's time goes (measured separately, per call):")
    for name, seconds in split.items():
        print(f"  {name:40s} {seconds * 1000:8.3f} ms  {seconds / service:6.1%}")
    rest = service - accounted
    name = "storage and the rest (by difference)"
    print(f"  {name:40s} {rest * 1000:8.3f} ms  {rest / service:6.1%}")
    print(f"  (reference: canonicalize + hash with pyld {reference * 1000:.3f} ms)")
    print(
        f"Bare durable SQLite commit: {commit * 1000:.3f} ms; an award through the service "
        f"costs {service / commit:.1f}x that"
    )
    sign = split["Ed25519 signature"]
    for engine_name, seconds in add_proof.items():
        print(
            f"add_proof ({engine_name}): {seconds * 1000:.3f} ms = {seconds / sign:.1f}x "
            "a bare Ed25519 signature (target <= 10x)"
        )
    canonicalization = split["canonicalize + hash (RDFC-1.0, fast path)"]
    print(
        f"Bare signatures per credential (Ed25519 + {arguments.jwt_algorithm}): "
        f"{bare * 1000:.3f} ms; issuing costs {service / bare:.1f}x that "
        f"(canonicalization alone {canonicalization / split['Ed25519 signature']:.0f}x "
        "an Ed25519 signature)."
    )
    report(
        "Data Integrity proof (`add_proof`, fast path)",
        f"{add_proof['fast path'] * 1000:.3f} ms",
        f"{add_proof['fast path'] / sign:.1f}x a bare Ed25519 signature",
        "<= 10x",
    )
    report(
        f"an award through the service, one core ({services.db.engine.dialect.name})",
        f"{service * 1000:.2f} ms",
        f"{service / bare:.1f}x its two bare signatures",
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak memory (max RSS): {peak:.0f} MiB")
    services.db.dispose()


if __name__ == "__main__":
    main()

"""Status lists: revocations per second and the time to publish a changed list.

Through the domain service on a fresh SQLite file: stores ``--count`` credentials with
status entries (unsigned placeholders, so that issuing is not what is measured), revokes
them one call each, then measures publishing a changed list of 131,072 entries (encode:
GZIP + base64url; sign: Data Integrity eddsa-rdfc-2022 and the VC-JWT) with a random
half of the bits set, the worst case for compression, and with the revoked bits only.

    .venv/bin/python bench/status.py [--count 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import secrets
import time
import uuid
from datetime import UTC, datetime

from harness import start_service

from issuer import status_list
from issuer.services import Services
from issuer.storage.models import IssuedCredential, StatusList

ACHIEVEMENT = "computer-user-support-specialists/proficient"
PUBLISH_ROUNDS = 20


def store_credentials(services: Services, count: int, assessor_id: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = datetime.now(UTC)
    with services.db.write() as session:
        for credential_id in ids:
            services.revocation.allocator.allocate(session, credential_id)
            session.add(
                IssuedCredential(
                    id=credential_id,
                    achievement=ACHIEVEMENT,
                    assessor_id=assessor_id,
                    recipient_email="bench@example.org",
                    recipient_name="",
                    issued_at=now,
                    valid_until=None,
                    credential_json="{}",
                    jwt="",
                    data_integrity_kid="",
                    jwt_kid="",
                )
            )
    return ids


def publish_seconds(services: Services, bits: bytes) -> tuple[float, float, int]:
    """Seconds to encode, seconds to encode and sign, and the encodedList length."""
    start = time.perf_counter()
    for _ in range(PUBLISH_ROUNDS):
        encoded = status_list.encode(bits)
    encode_seconds = (time.perf_counter() - start) / PUBLISH_ROUNDS
    start = time.perf_counter()
    for _ in range(PUBLISH_ROUNDS):
        with services.db.write() as session:
            row = session.get(StatusList, 1)
            assert row is not None
            row.bits = bits
            row.version += 1
        services.revocation.publish("1")
    publish = (time.perf_counter() - start) / PUBLISH_ROUNDS
    return encode_seconds, publish, len(encoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    arguments = parser.parse_args()

    bench = start_service("status", database_url=arguments.database_url)
    services, admin = bench.services, bench.assessor
    ids = store_credentials(services, arguments.count, admin.id)

    start = time.perf_counter()
    for credential_id in ids:
        services.revocation.revoke(credential_id, "bench", by=admin)
    elapsed = time.perf_counter() - start
    print(f"database: {services.db.engine.url.get_backend_name()}")
    print(
        f"revocations: {arguments.count} in {elapsed:.2f} s = "
        f"{arguments.count / elapsed:.0f} per second (one transaction each)"
    )

    with services.db.read() as session:
        row = session.get(StatusList, 1)
        assert row is not None
        revoked_bits = row.bits
    size = len(revoked_bits) * 8
    half = bytes(secrets.randbits(8) for _ in range(size // 8))
    for label, bits in (("revoked bits only", revoked_bits), ("random half set", half)):
        encode, publish, length = publish_seconds(services, bits)
        print(
            f"publish a changed list of {size} entries ({label}): encode {encode * 1000:.1f} ms, "
            f"encode + sign both forms + store {publish * 1000:.1f} ms, "
            f"encodedList {length} characters"
        )
    services.db.dispose()


if __name__ == "__main__":
    main()

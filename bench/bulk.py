"""Bulk awards: wall time and credentials per second for a CSV of N rows, end to end.

Measures the dry run (read + check every row) and the job run (claim, issue each row with
its idempotency key, record the row, audit) separately, on SQLite by default or on the
database a URL names (PostgreSQL: the schema is created fresh and dropped afterwards).
Prints rows per second and, measured in the same run, a row's cost as a multiple of its
bare work: one Ed25519 and one RS256 signature and one durable SQLite commit (the row needs
a fraction of a commit; the figure says how far a row is from the signatures' floor).
Target: 10,000 rows in under 20 s.

    .venv/bin/python bench/bulk.py [--rows 1000 --rows 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import time
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from harness import bare_sqlite_commit, per_call, report, start_service

HEADER = "name,email,level,statements,evidence_narrative,evidence_url,valid_until\n"


def csv_file(rows: int, run: str) -> bytes:
    lines = [
        f"Earner {n},earner{n}-{run}@example.org,Proficient,,Resolved an outage,"
        f"https://example.org/evidence/{n},\n"
        for n in range(rows)
    ]
    return (HEADER + "".join(lines)).encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="default: 1000 and 10000")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    arguments = parser.parse_args()
    row_counts = arguments.rows or [1000, 10_000]

    bench = start_service(
        "bulk",
        database_url=arguments.database_url,
        SMTP_HOST="",
        BULK_MAX_BYTES=64 * 1024 * 1024,
        BULK_MAX_ROWS=max(row_counts),
    )
    app, services, assessor = bench.app, bench.services, bench.assessor
    bulk = app.extensions["assess"].bulk
    print(f"backend: {services.db.engine.dialect.name}")
    results: list[tuple[int, float, float, float]] = []
    for rows in row_counts:
        data = csv_file(rows, uuid.uuid4().hex[:6])
        start = time.perf_counter()
        job_id, checked = bulk.create_job(assessor, "bench.csv", data, address="bench")
        checked_at = time.perf_counter()
        assert len(checked.good) == rows, checked.bad[:3]
        bulk.start(assessor, job_id)
        bulk.run_all("bench-worker")
        done = time.perf_counter()
        progress = bulk.progress(assessor, job_id)
        assert progress.counts == {"issued": rows}, progress.counts
        issuing = done - checked_at
        results.append((rows, checked_at - start, issuing, done - start))
    ring = services.keyring()
    eddsa, rsa = ring.signing_key("EdDSA"), ring.signing_key("RS256")
    digest = bytes(32)
    bare_sign = per_call(lambda: eddsa.private_key.sign(digest), 500) + per_call(
        lambda: rsa.private_key.sign(digest, padding.PKCS1v15(), hashes.SHA256()), 500
    )
    bare_commit = bare_sqlite_commit(bench.workdir, 500)
    bare = bare_sign + bare_commit
    print(
        f"bare work per row: Ed25519 + RS256 signatures {bare_sign * 1000:.3f} ms, "
        f"durable SQLite commit {bare_commit * 1000:.3f} ms"
    )
    for rows, dry_run, issuing, wall in results:
        per_row = issuing / rows
        print(
            f"{rows:>6} rows: dry run {dry_run:6.2f} s, issuing {issuing:7.1f} s = "
            f"{rows / issuing:6.1f} rows/s = {per_row / bare:5.2f}x the bare work, "
            f"wall {wall:7.1f} s (target for 10,000: < 20 s)"
        )
        report(
            f"bulk award of {rows:,} CSV rows, {services.db.engine.dialect.name}",
            f"{issuing:.1f} s ({rows / issuing:.0f} rows/s)",
            f"{per_row / bare:.2f}x a row's bare work (its two signatures and a durable commit)",
            "< 20 s" if rows == 10_000 else "",
        )
    services.db.dispose()


if __name__ == "__main__":
    main()

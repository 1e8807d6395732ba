"""Bulk awards: wall time and credentials per second for a CSV of N rows, end to end.

Measures the dry run (read + check every row) and the job run (claim, issue each row with
its idempotency key, record the row, audit) separately, on SQLite by default or on the
database a URL names (PostgreSQL: the schema is created fresh and dropped afterwards).

    .venv/bin/python bench/bulk.py [--rows 1000 --rows 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import time
import uuid

from harness import start_service

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
        print(
            f"{rows:>6} rows: dry run {checked_at - start:6.2f} s, "
            f"issuing {issuing:7.1f} s = {rows / issuing:5.1f} credentials/s, "
            f"wall {done - start:7.1f} s"
        )
    services.db.dispose()


if __name__ == "__main__":
    main()

"""Award throughput over HTTP: ``POST /api/v1/awards`` under gunicorn, on loopback.

Starts gunicorn (2 workers x 4 threads by default, as the issue measures) on the service
``harness.start_service`` made (SQLite by default, or the PostgreSQL server a URL names),
then drives a closed-loop load (``http_load.load``) first at ``GET /healthz`` (the floor)
and then at ``POST /api/v1/awards``, each award to a new earner, with an assessor's token.
Prints req/s, p50 and p99 of each, and the award's cost as a multiple of the floor.

    .venv/bin/python bench/awards_http.py [--seconds 10] [--connections 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import itertools
import json

from harness import PASSPHRASE, report, start_service
from http_load import (
    LoadResult,
    gunicorn,
    load,
    request_bytes,
    server_cpu_seconds,
    service_environment,
)

ACHIEVEMENT = "computer-user-support-specialists/proficient"
TARGET = 500.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    arguments = parser.parse_args()

    bench = start_service("awards-http", database_url=arguments.database_url)
    database_url = str(bench.services.db.engine.url.render_as_string(hide_password=False))
    bench.services.db.dispose()
    environment = service_environment(
        bench.workdir, passphrase=PASSPHRASE, database_url=database_url
    )
    numbers = itertools.count()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bench.token}"}

    def award() -> bytes:
        number = next(numbers)
        body = {
            "achievement": ACHIEVEMENT,
            "recipient": {"email": f"earner{number}@example.org", "name": f"Earner {number}"},
            "evidence": [{"narrative": "Resolved a network outage."}],
        }
        return request_bytes(
            "POST", "/api/v1/awards", headers=headers, body=json.dumps(body).encode()
        )

    healthz = request_bytes("GET", "/healthz")
    results: dict[str, LoadResult] = {}
    server_cpu: dict[str, float] = {}
    with gunicorn(environment, workers=arguments.workers, threads=arguments.threads) as port:
        # Warm every worker: the first award of a process loads keys and templates.
        load(port, award, connections=8, seconds=1.0)
        for name, next_request in (
            ("GET /healthz (the floor)", lambda: healthz),
            ("POST /api/v1/awards", award),
        ):
            cpu_before = server_cpu_seconds()
            results[name] = load(
                port, next_request, connections=arguments.connections, seconds=arguments.seconds
            )
            server_cpu[name] = (server_cpu_seconds() - cpu_before) / results[name].requests
    floor = results["GET /healthz (the floor)"].rate
    backend = database_url.split(":", 1)[0]
    print(
        f"gunicorn {arguments.workers} workers x {arguments.threads} threads, {backend}, "
        f"{arguments.connections} connections, {arguments.seconds:.0f} s each:"
    )
    for name, result in results.items():
        goal = f"  target >= {TARGET:.0f} req/s" if name.startswith("POST") else ""
        print(f"  {name:28s} {result.describe()}  {floor / result.rate:5.1f}x the floor{goal}")
    # Throughput on a shared machine varies from run to run; the CPU an award costs the
    # server varies less, and says how far two cores are from the target.
    print("Server CPU per request (gunicorn and its workers; the database server not counted):")
    for name, seconds in server_cpu.items():
        print(f"  {name:28s} {seconds * 1e3:6.2f} ms")
    awards = results["POST /api/v1/awards"]
    report(
        f"`POST /api/v1/awards`, {backend}",
        f"{awards.rate:.0f} req/s, p99 {awards.percentile(0.99) * 1e3:.0f} ms",
        f"{floor / awards.rate:.1f}x `/healthz`; "
        f"{server_cpu['POST /api/v1/awards'] * 1e3:.1f} ms of server CPU each",
        f">= {TARGET:.0f} req/s, p99 < 100 ms",
    )


if __name__ == "__main__":
    main()

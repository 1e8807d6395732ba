"""Reads over HTTP: the earner's page and POST /api/v1/verify under gunicorn, on loopback.

Issues ``--credentials`` awards on a fresh service (SQLite by default, or ``--database-url``),
starts gunicorn (2 workers x 4 threads by default, as the issue measures), warms each worker,
then drives a closed-loop load (``http_load.load``) at:

- ``GET /healthz``: the floor, what any request costs here (gunicorn, Flask, the headers);
- ``GET /credentials/<id>`` as a browser asks (``Accept: text/html``), round-robin over the
  credentials, and the same with ``If-None-Match`` (a revalidating browser, ``304``);
- ``GET /credentials/<id>.png``;
- ``POST /api/v1/verify`` with one of our Data Integrity credentials, and with its VC-JWT.

Prints requests per second, p50/p99 latency, each figure's target and its ratio to the
floor, measured in the same run, and the CPU time the server processes (gunicorn and its
workers) spent per request, a steadier figure than the rate on a machine others share.

    .venv/bin/python bench/pages.py [--seconds 5] [--connections 16] [--database-url URL]
        [--only verify]
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
TARGETS = {
    "GET /credentials/<id> (HTML)": 1500.0,
    "POST /api/v1/verify (our Data Integrity)": 1000.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--credentials", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--only", choices=["verify"], help="the floor and POST /api/v1/verify alone"
    )
    arguments = parser.parse_args()

    bench = start_service("pages", database_url=arguments.database_url)
    services = bench.services
    issued = [
        services.issuance.award(
            bench.assessor,
            {
                "achievement": ACHIEVEMENT,
                "recipient": {"email": f"earner{n}@example.org", "name": f"Earner {n}"},
                "evidence": [{"narrative": "Resolved a network outage."}],
            },
        )
        for n in range(arguments.credentials)
    ]
    database_url = str(services.db.engine.url.render_as_string(hide_password=False))
    services.db.dispose()
    environment = service_environment(
        bench.workdir, passphrase=PASSPHRASE, database_url=database_url
    )
    html = {"Accept": "text/html"}
    pages = itertools.cycle(
        [request_bytes("GET", f"/credentials/{award.id}", headers=html) for award in issued]
    )
    images = itertools.cycle(
        [request_bytes("GET", f"/credentials/{award.id}.png") for award in issued]
    )
    # The load comes from one address: the per-address verification limit is turned off
    # (ISSUER_VERIFY_RATE_PER_MINUTE=0) rather than measuring an assessor's token lookup.
    token: dict[str, str] = {}
    environment["ISSUER_VERIFY_RATE_PER_MINUTE"] = "0"
    credential_body = json.dumps(issued[0].credential).encode()
    verify_json = request_bytes(
        "POST",
        "/api/v1/verify",
        headers={"Content-Type": "application/json", **token},
        body=credential_body,
    )
    verify_jwt = request_bytes(
        "POST",
        "/api/v1/verify",
        headers={"Content-Type": "application/vc+jwt", **token},
        body=issued[0].jwt.encode(),
    )
    healthz = request_bytes("GET", "/healthz")

    results: dict[str, LoadResult] = {}
    server_cpu: dict[str, float] = {}
    with gunicorn(environment, workers=arguments.workers, threads=arguments.threads) as port:
        # Warm every worker: first views fill each process's memories.
        for request in (*[next(pages) for _ in issued], verify_json, verify_jwt):
            load(port, lambda request=request: request, connections=8, seconds=0.3)
        etags = {}
        for award in issued:
            etags[award.id] = _etag(port, f"/credentials/{award.id}")
        revalidations = itertools.cycle(
            [
                request_bytes(
                    "GET", f"/credentials/{credential_id}", headers={**html, "If-None-Match": etag}
                )
                for credential_id, etag in etags.items()
            ]
        )

        def run(name: str, next_request: object) -> None:
            cpu_before = server_cpu_seconds()
            results[name] = load(
                port,
                next_request,  # type: ignore[arg-type]
                connections=arguments.connections,
                seconds=arguments.seconds,
            )
            server_cpu[name] = (server_cpu_seconds() - cpu_before) / results[name].requests

        run("GET /healthz (the floor)", lambda: healthz)
        if arguments.only is None:
            run("GET /credentials/<id> (HTML)", lambda: next(pages))
            run("GET /credentials/<id> (If-None-Match, 304)", lambda: next(revalidations))
            run("GET /credentials/<id>.png", lambda: next(images))
        run("POST /api/v1/verify (our Data Integrity)", lambda: verify_json)
        run("POST /api/v1/verify (our VC-JWT)", lambda: verify_jwt)

    floor = results["GET /healthz (the floor)"].rate
    floor_cpu = server_cpu["GET /healthz (the floor)"]
    backend = database_url.split(":", 1)[0]
    print(
        f"gunicorn {arguments.workers} workers x {arguments.threads} threads, {backend}, "
        f"{arguments.connections} connections, {arguments.seconds:.0f} s each:"
    )
    for name, result in results.items():
        target = TARGETS.get(name)
        goal = f"  target >= {target:.0f} req/s" if target else ""
        print(f"  {name:44s} {result.describe()}  {floor / result.rate:4.2f}x the floor{goal}")
    print("Server CPU per request (gunicorn and its workers):")
    for name, seconds in server_cpu.items():
        print(f"  {name:44s} {seconds * 1e6:6.0f} µs  {seconds / floor_cpu:4.2f}x the floor's")
    for name, target in TARGETS.items():
        if name in results:
            result = results[name]
            report(
                f"`{name}`, {backend}",
                f"{result.rate:.0f} req/s",
                f"{floor / result.rate:.2f}x `/healthz`; "
                f"{server_cpu[name] * 1e6:.0f} µs of server CPU each",
                f">= {target:,.0f} req/s",
            )


def _etag(port: int, path: str) -> str:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path, headers={"Accept": "text/html"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.headers["ETag"]


if __name__ == "__main__":
    main()

"""A bounded HTTP load generator for loopback, and gunicorn serving a benchmark's service.

``load`` keeps ``connections`` keep-alive connections busy for ``seconds``, each with one
request in flight (a closed loop: the load never exceeds what the server answers), from
one thread with ``selectors``: the client costs a few microseconds a request, so on a small
machine the server, not the client, is what is measured. Responses are read by their
``Content-Length``, which every response of the service carries.

``gunicorn`` starts ``gunicorn --workers W --threads T wsgi:app`` on a free port with the
environment of a service ``harness.start_service`` made, and stops it afterwards.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def describe(self) -> str:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        return (
            f"{self.rate:8.0f} req/s  p50 {self.percentile(0.5) * 1000:6.1f} ms  "
            f"p99 {self.percentile(0.99) * 1000:6.1f} ms  ({self.requests} in "
            f"{self.seconds:.1f} s; {codes})"
        )


def request_bytes(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    def __init__(self, port: int, next_request: Callable[[], bytes]) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.setblocking(False)
        self._next_request = next_request
        self.buffer = b""
        self.started = 0.0

    def send(self) -> None:
        self.buffer = b""
        self.started = time.perf_counter()
        self.socket.sendall(self._next_request())

    def response_status(self) -> int | None:
        """The status of a complete response in the buffer (consumed), or None."""
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buffer[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(self.buffer) < head_end + 4 + length:
            return None
        return int(head.split(" ", 2)[1])


def load(
    port: int,
    next_request: Callable[[], bytes],
    *,
    connections: int = 16,
    seconds: float = 5.0,
) -> LoadResult:
    """Closed-loop load on ``127.0.0.1:port``; ``next_request`` gives each request's bytes."""
    selector = selectors.DefaultSelector()
    pool = [_Connection(port, next_request) for _ in range(connections)]
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    began = time.perf_counter()
    deadline = began + seconds
    for connection in pool:
        selector.register(connection.socket, selectors.EVENT_READ, connection)
        connection.send()
    busy = len(pool)
    while busy:
        for key, _events in selector.select(timeout=1.0):
            connection = key.data
            chunk = connection.socket.recv(1 << 20)
            if not chunk:
                raise ConnectionError("The server closed a keep-alive connection.")
            connection.buffer += chunk
            status = connection.response_status()
            if status is None:
                continue
            now = time.perf_counter()
            latencies.append(now - connection.started)
            statuses[status] = statuses.get(status, 0) + 1
            if now < deadline:
                connection.send()
            else:
                selector.unregister(connection.socket)
                connection.socket.close()
                busy -= 1
        if time.perf_counter() > deadline + 30:
            raise TimeoutError("The server stopped answering.")
    return LoadResult(len(latencies), time.perf_counter() - began, statuses, latencies)


def service_environment(workdir: Path, *, passphrase: str, database_url: str) -> dict[str, str]:
    """The ``ISSUER_*`` environment of the service ``harness.start_service`` made."""
    return {
        **os.environ,
        "ISSUER_ENV": "production",
        "ISSUER_BASE_URL": "https://badges.example.test",
        "ISSUER_DATABASE_URL": database_url,
        "ISSUER_KEYS_DIR": str(workdir / "keys"),
        "ISSUER_KEY_PASSPHRASE": passphrase,
        "ISSUER_SECRET_KEY": "bench",
        "ISSUER_TEMPLATES_DIR": str(ROOT / "badge_templates"),
        "ISSUER_OUTBOX_DIR": str(workdir / "outbox"),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def gunicorn(environment: dict[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[int]:
    """gunicorn serving ``wsgi:app`` on a free loopback port while the block runs."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=environment,
    )
    try:
        _wait_for(port, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited before it served")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(request_bytes("GET", "/healthz", headers={"Connection": "close"}))
                if probe.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("gunicorn did not start serving")


def server_cpu_seconds() -> float:
    """CPU seconds (user and system) used so far by the processes this one started and
    their children: gunicorn's master and workers. Read from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    ours = {os.getpid()}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= found
        grew = bool(found)
    return sum(used[pid] for pid in ours - {os.getpid()})

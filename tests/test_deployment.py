"""The shipped production setup (gunicorn.conf.py behind deploy/nginx.conf) holds up against
slow clients: six connections sending their bodies a byte at a time stalled gunicorn alone
(2 workers x 2 threads) for 17 s; behind the buffering proxy they wait in nginx instead.

Runs the real programs: gunicorn with our config, nginx with our config (its TLS and
addresses swapped for loopback ones). nginx comes from Debian's package (.ci/run installs
it); without it locally the proxy test skips, in CI it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT, free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[int]:
    """gunicorn with gunicorn.conf.py, 1 worker x 2 threads, a fresh development service."""
    port = free_port()
    env = {
        **os.environ,
        "ISSUER_ENV": "development",
        "ISSUER_BASE_URL": "http://127.0.0.1:5000",
        "ISSUER_DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.sqlite3'}",
        "ISSUER_KEYS_DIR": str(tmp_path / "keys"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
        "GUNICORN_ACCESSLOG": str(tmp_path / "access.log"),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(  # noqa: S603 - our own programs, no shell
        [bin_dir / "issuer", "init"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    server = subprocess.Popen(  # noqa: S603
        [bin_dir / "gunicorn", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def nginx(tmp_path: Path, gunicorn: int) -> Iterator[int]:
    """nginx with deploy/nginx.conf, listening on loopback without TLS, in front of it."""
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing; .ci/run installs Debian's nginx-light")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    for shipped, local in [
        ("pid /run/nginx-issuer.pid;", f"pid {tmp_path}/nginx.pid; daemon off;"),
        (
            "access_log /var/log/nginx/issuer.access.log issuer;",
            f"access_log {tmp_path}/nginx.access.log issuer; error_log {tmp_path}/error.log;"
            f" client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;",
        ),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{gunicorn};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{port};"),
        ("ssl_certificate     /etc/ssl/certs/badges.example.org.pem;", ""),
        ("ssl_certificate_key /etc/ssl/private/badges.example.org.key;", ""),
    ]:
        assert config.count(shipped) == 1, shipped
        config = config.replace(shipped, local)
    (tmp_path / "nginx.conf").write_text(config)
    server = subprocess.Popen(  # noqa: S603 - Debian's nginx, no shell
        [NGINX, "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _slow_bodies(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that send a POST head and then only the first byte of its body."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(
            b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        )
        connections.append(connection)
    return connections


def _answered_within(port: int, seconds: float) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=seconds) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_slow_bodies_stall_gunicorn_alone(gunicorn: int) -> None:
    """Why the proxy is there: two slow bodies take both threads of the one worker."""
    assert _answered_within(gunicorn, 10)
    held = _slow_bodies(gunicorn, 2)
    time.sleep(0.5)
    try:
        assert not _answered_within(gunicorn, 3)
    finally:
        for connection in held:
            connection.close()


def test_behind_the_proxy_slow_bodies_wait_in_nginx(nginx: int) -> None:
    assert _answered_within(nginx, 10)
    held = _slow_bodies(nginx, 6)
    time.sleep(0.5)
    try:
        for _ in range(5):
            assert _answered_within(nginx, 5)
    finally:
        for connection in held:
            connection.close()


def test_the_access_logs_hold_no_query_string(nginx: int, tmp_path: Path) -> None:
    """The earner's settings link carries its token in the query string."""
    urllib.request.urlopen(
        f"http://127.0.0.1:{nginx}/healthz?token=secret-token", timeout=10
    ).close()
    time.sleep(0.5)
    for log in ("nginx.access.log", "access.log"):
        text = (tmp_path / log).read_text()
        assert "/healthz" in text, log
        assert "secret-token" not in text, log

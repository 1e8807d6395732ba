"""Constants and helpers the tests share (imported by name; conftest.py only holds fixtures)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance" / "ob3"
TEMPLATES_DIR = ROOT / "badge_templates"
PASSPHRASE = "correct horse battery staple"
BASE_URL = "https://badges.example.test"
# The award most tests make (the ``issued`` fixture): a level, an earner, one piece of evidence.
AWARD = {
    "achievement": "computer-user-support-specialists/proficient",
    "recipient": {"email": "Grace.Hopper@Example.org", "name": "Grace Hopper"},
    "evidence": [{"narrative": "Ran the help desk for a week.", "url": "https://example.org/e/1"}],
}


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared conformance data is not checked out here")
    return path


def free_port() -> int:
    """A loopback TCP port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib to deliver a message (no TLS, no auth, no SMTPUTF8)."""

    def handle(self) -> None:
        self.server.received.connections += 1  # type: ignore[attr-defined]
        self.wfile.write(b"220 test SMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 test\r\n")
            elif command.startswith(b"MAIL FROM:"):
                address = line.strip()[len(b"MAIL FROM:") :].strip(b"<> ")
                self.server.received.senders.append(address.decode())  # type: ignore[attr-defined]
                self.wfile.write(b"250 ok\r\n")
            elif command.startswith(b"RCPT TO:"):
                address = line.strip()[len(b"RCPT TO:") :].strip(b"<> ")
                self.server.received.recipients.append(address.decode())  # type: ignore[attr-defined]
                self.wfile.write(b"250 ok\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.received.append(data)  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


class Inbox(list[bytes]):
    """The messages a test mail server received, and in ``recipients`` every envelope
    recipient (``RCPT TO``) it was given: where the mail really goes; ``senders`` every
    envelope sender (``MAIL FROM``); ``connections`` counts the SMTP connections it was
    opened with."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[str] = []
        self.senders: list[str] = []
        self.connections = 0


@contextmanager
def tcp_server(
    port: int, handler: type[socketserver.BaseRequestHandler], **attributes: object
) -> Iterator[socketserver.ThreadingTCPServer]:
    """A threaded loopback server on ``port`` while the block runs, with ``attributes`` set
    on it for its handlers to share."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    # A client that keeps its connection open (the outbox's delivery thread does, between
    # batches) must not hold the server's shutdown: handler threads are not waited for.
    server.daemon_threads = True
    server.block_on_close = False
    for name, value in attributes.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    """A mail server on ``port`` while the block runs; yields the messages it receives."""
    with tcp_server(port, _SmtpHandler, received=Inbox()) as server:
        yield server.received  # type: ignore[attr-defined]

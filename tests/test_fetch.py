"""The one outbound fetcher: https only, no private addresses, no redirects, size and time caps.

``DocumentServer`` is a real HTTP server on 127.0.0.1 serving fixed answers; the verification
tests use it too, reached through ``ISSUER_FETCH_ALLOW_HOSTS``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from issuer.errors import InvalidInput
from issuer.fetch import Fetcher, FetchError, is_public_address, parse_allow_hosts


@dataclass
class Answer:
    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0
    drip: bool = False


class DocumentServer:
    """A threaded HTTP server answering each path from ``routes``; 404 otherwise."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = routes.get(self.path)
                if answer is None:
                    self.send_error(404)
                    return
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if not answer.drip:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                try:
                    if answer.drip:
                        for byte in answer.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.05)
                    else:
                        self.wfile.write(answer.body)
                except OSError:
                    return

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Handler threads are joined on stop, so no socket outlives its test (a slow answer
        # may still be sleeping when the client has given up).
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str, scheme: str = "https") -> str:
        return f"{scheme}://{self.host}{path}"

    def start(self) -> DocumentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def document_server() -> Iterator[DocumentServer]:
    server = DocumentServer().start()
    yield server
    server.stop()


@pytest.fixture
def fetcher(document_server: DocumentServer) -> Fetcher:
    return Fetcher({("127.0.0.1", document_server.port)}, max_bytes=1024, timeout=1.0)


def test_an_allowed_host_is_fetched_over_plain_http(
    document_server: DocumentServer, fetcher: Fetcher
) -> None:
    document_server.routes["/doc"] = Answer(b'{"a": 1}')
    fetched = fetcher.get(document_server.url("/doc"))
    assert fetched.body == b'{"a": 1}'
    assert fetched.content_type == "application/json"


def test_a_local_host_that_is_not_allowed_is_refused(document_server: DocumentServer) -> None:
    document_server.routes["/doc"] = Answer()
    with pytest.raises(FetchError) as raised:
        Fetcher().get(document_server.url("/doc"))
    assert raised.value.code == "fetch_address_refused"


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (
            Answer(status=302, headers={"Location": "https://example.org/"}),
            "fetch_redirect_refused",
        ),
        (Answer(status=301, headers={"Location": "/doc"}), "fetch_redirect_refused"),
        (Answer(status=500), "fetch_status"),
        (Answer(b"x" * 2000), "fetch_too_large"),
        (Answer(delay=1.5), "fetch_timeout"),
        (Answer(b"x" * 60, drip=True), "fetch_timeout"),
        (Answer(headers={"Content-Encoding": "gzip"}), "fetch_encoding_refused"),
    ],
    ids=[
        "redirect elsewhere",
        "redirect here",
        "server error",
        "too large",
        "slow to answer",
        "slow drip",
        "compressed",
    ],
)
def test_bad_answers_are_refused(
    document_server: DocumentServer, fetcher: Fetcher, answer: Answer, code: str
) -> None:
    document_server.routes["/doc"] = answer
    with pytest.raises(FetchError) as raised:
        fetcher.get(document_server.url("/doc"))
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://example.org/doc", "fetch_scheme_refused"),
        ("ftp://example.org/doc", "fetch_scheme_refused"),
        ("file:///etc/passwd", "fetch_url_invalid"),
        ("https://user:pw@example.org/", "fetch_url_invalid"),
        ("https://example.org:99999/", "fetch_url_invalid"),
        ("https:///nohost", "fetch_url_invalid"),
    ],
)
def test_urls_outside_the_rules_are_refused_before_any_connection(url: str, code: str) -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("no name may be resolved for a refused URL")

    with pytest.raises(FetchError) as raised:
        Fetcher(resolver=no_dns).get(url)
    assert raised.value.code == code


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 (an address refused, nothing is bound)
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "240.0.0.1",
    ],
)
def test_names_that_resolve_to_private_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
    with pytest.raises(FetchError) as raised:
        Fetcher(resolver=lambda host, port: ["93.184.215.14", address]).get("https://evil.example/")
    assert raised.value.code == "fetch_address_refused"


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_global_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


def test_allow_hosts_are_parsed() -> None:
    assert parse_allow_hosts(" localhost:8080, 127.0.0.1:9000 ,") == {
        ("localhost", 8080),
        ("127.0.0.1", 9000),
    }
    assert parse_allow_hosts("") == frozenset()
    for bad in ("localhost", "host:port", ":80", "h:0"):
        with pytest.raises(InvalidInput):
            parse_allow_hosts(bad)

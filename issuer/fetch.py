"""The one outbound fetcher: every document the service reads from another host comes here.

A credential names URLs (its issuer's DID, a key, a status list) and verifying it makes
the service fetch them, so whoever writes a credential chooses where we connect. The
rules that keep that from reaching inside our network:

- ``https://`` only. Hosts named in ``ISSUER_FETCH_ALLOW_HOSTS`` (``host:port``, for tests
  and development) are reached over plain ``http://`` instead, and only they may be
  local; nothing else relaxes these rules.
- The host name is resolved once; if any address is private, loopback, link-local,
  multicast, reserved or otherwise not global, the fetch is refused. The connection then
  goes to the address that was checked, so a second DNS answer cannot point elsewhere
  (DNS rebinding). TLS still verifies the certificate for the host name.
- No redirects are followed: a redirect could lead anywhere the rules refuse.
- At most ``max_bytes`` (256 KiB) of body and ``timeout`` (5 s) in total, however slowly
  the other side sends; no compressed transfer encodings.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from issuer.digits import whole_number
from issuer.errors import InvalidInput

MAX_BYTES = 256 * 1024
TIMEOUT_SECONDS = 5.0
_READ_CHUNK = 16 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[[str, int], list[str]]


class FetchError(InvalidInput):
    """A document could not be fetched (refused by the rules, or the other side failed)."""

    code = "fetch_failed"


@dataclass(frozen=True)
class FetchedDocument:
    """The body of a successful fetch and what the server said it was."""

    url: str
    content_type: str
    body: bytes


def parse_allow_hosts(setting: str | Iterable[str] | None) -> frozenset[tuple[str, int]]:
    """``"localhost:8080, 127.0.0.1:9000"`` → ``{("localhost", 8080), ("127.0.0.1", 9000)}``.

    Raises InvalidInput ``fetch_allow_hosts_invalid`` for an entry that is not ``host:port``.
    """
    if not setting:
        return frozenset()
    entries = setting.split(",") if isinstance(setting, str) else list(setting)
    allowed = set()
    for entry in (item.strip() for item in entries):
        if not entry:
            continue
        host, separator, port = entry.rpartition(":")
        number = whole_number(port, max_digits=5)
        if not separator or not host or number is None or not 0 < number < 65536:
            raise InvalidInput(
                "fetch_allow_hosts_invalid",
                f"ISSUER_FETCH_ALLOW_HOSTS entries are host:port, not {entry[:80]!r}.",
            )
        allowed.add((host.strip("[]").lower(), int(port)))
    return frozenset(allowed)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as text. Raises FetchError ``fetch_dns_failed``."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchError("fetch_dns_failed", f"The host {host} could not be resolved.") from None
    return [str(answer[4][0]) for answer in answers]


def is_public_address(address: str) -> bool:
    """True when ``address`` is a global unicast address (never private, loopback, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_private
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_reserved
        and not ip.is_unspecified
    )


class Fetcher:
    """GET over https with the rules in the module docstring; safe to share by threads."""

    def __init__(
        self,
        allow_hosts: Iterable[tuple[str, int]] = (),
        *,
        max_bytes: int = MAX_BYTES,
        timeout: float = TIMEOUT_SECONDS,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._allow_hosts = frozenset(allow_hosts)
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._resolver = resolver

    def get(self, url: str, *, accept: str = "application/json") -> FetchedDocument:
        """Fetch ``url`` and return its body.

        Raises FetchError with ``fetch_url_invalid``, ``fetch_scheme_refused``,
        ``fetch_dns_failed``, ``fetch_address_refused``, ``fetch_connection_failed``,
        ``fetch_timeout``, ``fetch_redirect_refused``, ``fetch_status``,
        ``fetch_encoding_refused`` or ``fetch_too_large``.
        """
        target = self._target(url)
        deadline = time.monotonic() + self._timeout
        connection = target.connection(self._timeout / 2)
        try:
            try:
                connection.request(
                    "GET",
                    target.path,
                    headers={
                        "Accept": accept,
                        "Accept-Encoding": "identity",
                        "User-Agent": "ob3-issuer-verifier",
                    },
                )
                response = connection.getresponse()
                try:
                    return self._read(url, response, connection, deadline)
                finally:
                    # For an HTTP/1.0 or "Connection: close" answer the response owns the
                    # socket, and closing the connection alone would leave it open.
                    response.close()
            except TimeoutError:
                raise FetchError(
                    "fetch_timeout", f"{target.host} did not answer within {self._timeout:g} s."
                ) from None
            except (OSError, http.client.HTTPException, ssl.SSLError) as error:
                raise FetchError(
                    "fetch_connection_failed",
                    f"Could not fetch from {target.host} ({type(error).__name__}).",
                ) from None
        finally:
            connection.close()

    def _target(self, url: str) -> _Target:
        if not isinstance(url, str) or len(url) > 2048:
            raise FetchError("fetch_url_invalid", "The URL is not usable.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise FetchError("fetch_url_invalid", "The URL is not usable.") from None
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise FetchError("fetch_url_invalid", "The URL names no host, or carries a user name.")
        if parts.scheme not in _DEFAULT_PORTS:
            raise FetchError("fetch_scheme_refused", "Only https:// URLs are fetched.")
        port = port or _DEFAULT_PORTS[parts.scheme]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if (host, port) in self._allow_hosts:
            # A named development or test host: plain http, and it may be local.
            addresses = self._resolver(host, port)
            if not addresses:
                raise FetchError("fetch_dns_failed", f"The host {host} could not be resolved.")
            return _Target("http", host, port, addresses[0], path)
        if parts.scheme != "https":
            raise FetchError("fetch_scheme_refused", "Only https:// URLs are fetched.")
        addresses = self._resolver(host, port)
        if not addresses:
            raise FetchError("fetch_dns_failed", f"The host {host} could not be resolved.")
        refused = [address for address in addresses if not is_public_address(address)]
        if refused:
            raise FetchError(
                "fetch_address_refused",
                f"{host} resolves to a private or reserved address; it is not fetched.",
            )
        return _Target("https", host, port, addresses[0], path)

    def _read(
        self,
        url: str,
        response: http.client.HTTPResponse,
        connection: http.client.HTTPConnection,
        deadline: float,
    ) -> FetchedDocument:
        if 300 <= response.status < 400:
            raise FetchError(
                "fetch_redirect_refused", "The server answered with a redirect; none is followed."
            )
        if response.status != 200:
            raise FetchError("fetch_status", f"The server answered {response.status}.")
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise FetchError("fetch_encoding_refused", "Compressed responses are not accepted.")
        declared = response.getheader("Content-Length")
        length = whole_number(declared.strip()) if declared is not None else None
        if length is not None and length > self._max_bytes:
            raise FetchError("fetch_too_large", f"The document is over {self._max_bytes} bytes.")
        body = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(
                    "fetch_timeout", f"The document took longer than {self._timeout:g} s."
                )
            # Shorten the socket's wait to what is left. A connection that has handed its
            # socket to the response (HTTP/1.0, "Connection: close") no longer lets us; then
            # each wait is bounded by the per-operation timeout set at connect, half the total.
            pinned = getattr(connection, "pinned_socket", None)
            if pinned is not None:
                with contextlib.suppress(OSError):
                    pinned.settimeout(remaining)
            chunk = response.read1(_READ_CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > self._max_bytes:
                raise FetchError(
                    "fetch_too_large", f"The document is over {self._max_bytes} bytes."
                )
        content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip()
        return FetchedDocument(url, content_type.lower(), bytes(body))


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    address: str
    path: str

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return _PinnedHTTPSConnection(self.host, self.port, self.address, timeout)
        return _PinnedHTTPConnection(self.host, self.port, self.address, timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand; the Host header keeps the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.pinned_socket = self.sock


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address; the certificate is checked for the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        context: Any = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(raw, server_hostname=self.host)
        self.pinned_socket = self.sock

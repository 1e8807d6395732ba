"""Per-client rate limits for endpoints anyone may call (the public verifier).

A token bucket per client address: ``per_minute`` requests a minute, in bursts of as many.
Buckets live in this process, so with N worker processes a client may get up to N times the
rate; a reverse proxy's limit in front (README, deploy/nginx.conf) gives one shared limit.
The number of addresses remembered is bounded: the least recently seen are forgotten first,
which only ever lets a client in sooner.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from issuer.errors import TooManyRequests

MAX_CLIENTS = 10_000


class RateLimiter:
    """``take(client)`` once per request; raises TooManyRequests when over the limit."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ):
        self._capacity = float(per_minute)
        self._refill_per_second = per_minute / 60.0
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        """Count one request of ``client``.

        Raises TooManyRequests ``rate_limited`` (with ``retry_after`` in whole seconds).
        """
        now = self._clock()
        with self._lock:
            tokens, seen = self._buckets.pop(client, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - seen) * self._refill_per_second)
            if tokens < 1:
                self._remember(client, tokens, now)
                wait = math.ceil((1 - tokens) / self._refill_per_second)
                raise TooManyRequests(
                    "rate_limited",
                    f"Too many requests from your address. Try again in {wait} seconds.",
                    wait,
                )
            self._remember(client, tokens - 1, now)

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)

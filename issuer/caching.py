"""Bounded in-process memories of results that are costly to make and never change.

A credential we issued never changes once stored, so what is made from it alone (its QR
code, its baked images, what our verifier found in its bytes) can be made once per process
and reused. Each memory holds at most ``size`` entries (least recently used go first) and,
when given ``seconds``, forgets an entry after that long, for results that may go stale
(a key withdrawn, a status list re-read). Nothing here is shared between processes: every
worker makes its own, which is why only results every worker would make alike are kept.
Thread-safe (gunicorn's threads share one memory).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class BoundedCache(Generic[Key, Value]):
    """A least-recently-used map of at most ``size`` entries, each kept ``seconds`` at most."""

    def __init__(
        self,
        size: int,
        *,
        seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError("A cache holds at least one entry.")
        self._size = size
        self._seconds = seconds
        self._clock = clock
        self._entries: OrderedDict[Key, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Value | None:
        """The value remembered for ``key``, or None (never made, forgotten or too old)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._seconds is not None and self._clock() - entry[0] >= self._seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Key, value: Value) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def get_or_make(self, key: Key, make: Callable[[], Value]) -> Value:
        """The remembered value, or ``make()`` remembered. Two threads may both make it;
        both get a value ``make`` returns, which is why only pure results are kept."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

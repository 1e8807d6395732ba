"""Whole numbers written as text that comes from outside: ASCII digits, nothing else.

``str.isdigit`` is true for ``"²"`` (which ``int`` then refuses: a crash) and for ``"١٢"``
(which ``int`` reads as 12: a number nobody wrote). A status index, a statement number, a
port or a ``Content-Length`` read that way goes through ``whole_number`` instead.
"""

from __future__ import annotations


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """``text`` as a number when it is 1 to ``max_digits`` ASCII digits; None otherwise."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None

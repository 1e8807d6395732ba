"""Words for people on every page: dates as "6 December 2026", not ISO timestamps.

The server writes dates in English; ``static/dates.js`` rewrites each ``<time
data-in-words>`` in the reader's own language with the browser's ``Intl``. The exact
timestamp stays in the element's ``datetime`` attribute and in each page's technical details.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask


def in_words(value: datetime | str | None) -> str:
    """A date in words, e.g. "6 December 2026"; text that is not a date is returned as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        when = value
    return f"{when.day} {when:%B %Y}"


def init_app(app: Flask) -> None:
    app.add_template_filter(in_words, "in_words")

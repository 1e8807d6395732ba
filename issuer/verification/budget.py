"""How much verification work one request may ask for, across all the credentials in it.

Each document is already capped (``issuer.proofs.data_integrity.MAX_OBJECTS``); a batch of
fifty documents at the cap would still hold the canonicalization lock for many seconds. So
a request gets a budget, counted in the unit canonicalization time grows with: the JSON
objects of each credential it verifies. A credential that no longer fits is not checked and
reads as not verified (``verification_budget_exceeded``); the client sends it again in a
request of its own. The web layer opens the budget (``ISSUER_VERIFY_BUDGET_OBJECTS``); the
CLI runs without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from issuer.proofs.data_integrity import MAX_OBJECTS

_current: ContextVar[list[int] | None] = ContextVar("verification_budget", default=None)


@contextmanager
def work_budget(objects: int) -> Iterator[None]:
    """Verification inside the block may spend ``objects`` in all."""
    token = _current.set([objects])
    try:
        yield
    finally:
        _current.reset(token)


def spend(document: Any) -> bool:
    """Take ``document``'s cost from the open budget; False (nothing taken) when it does not
    fit. Always True outside a budget."""
    left = _current.get()
    if left is None:
        return True
    # A document past the per-document cap is refused unread: it costs no more than the cap.
    cost = min(count_objects(document), MAX_OBJECTS)
    if cost > left[0]:
        return False
    left[0] -= cost
    return True


def count_objects(document: Any) -> int:
    """The JSON objects in ``document``, itself included."""
    count = 0
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count

"""The JSON Schemas this service owns, and one way to check a document against them."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from issuer.errors import IssuerError


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator for ``issuer/schemas/<name>.schema.json`` (loaded once)."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check(
    name: str, document: Any, *, error: type[IssuerError], code: str, subject: str = "$"
) -> None:
    """Validate ``document``; raise ``error(code, …)`` naming the JSON path of the first error.

    jsonschema's ``best_match`` picks the error a person can most likely act on.
    """
    first = best_match(validator(name).iter_errors(document))
    if first is None:
        return
    path = subject + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.path)
    raise error(code, f"{path}: {_describe(first.message)}", {"path": path})


def _describe(message: str) -> str:
    # jsonschema quotes whole values in its messages; keep what a person can act on short.
    return message if len(message) <= 300 else message[:297] + "..."

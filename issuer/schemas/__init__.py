"""The JSON Schemas this service owns, and one way to check a document against them.

Whether a document is valid is jsonschema-rs's answer. It reads ``pattern`` as JSON Schema
says, as an ECMA-262 regular expression: ``$`` is the end of the text and ``\\d`` an ASCII
digit. Python's ``re``, which python-jsonschema uses, lets ``$`` match before a final newline
and ``\\d`` match any Unicode digit, so it would pass ``"Earner\\n"`` as one line of text. It
also answers in microseconds where python-jsonschema takes milliseconds on a credential.

When a document is invalid, python-jsonschema's ``best_match`` names the error a person can
most likely act on; where only the ECMA-262 reading finds one, jsonschema-rs's first error is
named instead.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from issuer.errors import IssuerError


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """``issuer/schemas/<name>.schema.json`` (loaded once)."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """python-jsonschema's validator for the schema ``name``: it names errors."""
    Draft202012Validator.check_schema(schema(name))
    return Draft202012Validator(schema(name))


@functools.cache
def _fast_validator(name: str) -> jsonschema_rs.Draft202012Validator:
    # Formats are annotations only, as in Draft 2020-12 and python-jsonschema by default.
    return jsonschema_rs.Draft202012Validator(schema(name), validate_formats=False)


def check(
    name: str, document: Any, *, error: type[IssuerError], code: str, subject: str = "$"
) -> None:
    """Validate ``document``; raise ``error(code, …)`` naming the JSON path of the first error."""
    valid = _fast_verdict(name, document)
    if valid:
        return
    first = best_match(validator(name).iter_errors(document))
    if first is not None:
        raise _invalid(error, code, subject, first.path, first.message)
    if valid is False:
        problem = next(iter(_fast_validator(name).iter_errors(document)))
        raise _invalid(error, code, subject, problem.instance_path, problem.message)


def _fast_verdict(name: str, document: Any) -> bool | None:
    """jsonschema-rs's verdict; None for a document it cannot take: a string that is not
    Unicode text (a lone surrogate, which our JSON readers refuse before this), left to
    python-jsonschema alone."""
    try:
        return bool(_fast_validator(name).is_valid(document))
    except ValueError:
        return None


def _invalid(
    error: type[IssuerError], code: str, subject: str, where: Any, message: str
) -> IssuerError:
    path = subject + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
    return error(code, f"{path}: {_describe(message)}", {"path": path})


def _describe(message: str) -> str:
    # Validators quote whole values in their messages; keep what a person can act on short.
    return message if len(message) <= 300 else message[:297] + "..."

"""The one reader for JSON that comes from outside.

Python's ``json`` module accepts things other JSON readers do not (``NaN``, duplicate keys,
lone surrogates) and would let a deeply nested document exhaust the stack. Two readers that
disagree about a document are a security hole when one of them checks a signature, so
everything from outside goes through ``parse`` and is refused with a stable code instead.
Numbers too are kept to what every reader reads alike: an integer of more than
``MAX_NUMBER_DIGITS`` digits (Python refuses to convert past 4,300; JavaScript reads it as
a rounded float) and a number that overflows a double (``1e400``) are refused.
"""

from __future__ import annotations

import json
import math
from typing import Any

from issuer.errors import InvalidInput, PayloadTooLarge

MAX_NUMBER_DIGITS = 100


def parse(body: bytes, *, max_bytes: int, max_depth: int, require_object: bool = True) -> Any:
    """Parse ``body`` as strict JSON.

    Raises PayloadTooLarge (``payload_too_large``) over ``max_bytes``, and InvalidInput with
    ``json_not_utf8``, ``json_malformed``, ``json_constant_not_allowed``,
    ``json_duplicate_key``, ``json_too_deep``, ``json_lone_surrogate``, ``json_number_too_large``
    or ``json_not_object``.
    """
    if len(body) > max_bytes:
        raise PayloadTooLarge(
            "payload_too_large", f"The body is larger than the limit of {max_bytes} bytes."
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            "json_not_utf8", f"The body is not valid UTF-8 (byte {error.start})."
        ) from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise InvalidInput(
            "json_too_deep", f"The JSON is nested deeper than {max_depth} levels."
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidInput(
            "json_malformed",
            f"The body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}).",
        ) from None
    _check_depth_and_strings(value, max_depth)
    if require_object and not isinstance(value, dict):
        raise InvalidInput("json_not_object", "The body must be a JSON object.")
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput(
                "json_duplicate_key", f"The key {key!r} appears twice in one object."
            )
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise InvalidInput("json_constant_not_allowed", f"{name} is not a JSON number.")


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise InvalidInput(
            "json_number_too_large",
            f"An integer has more than {MAX_NUMBER_DIGITS} digits.",
        )
    return int(literal)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value) or len(literal) > 4 * MAX_NUMBER_DIGITS:
        raise InvalidInput(
            "json_number_too_large",
            f"The number {literal[:40]} is too large or too long to be read alike everywhere.",
        )
    return value


def _check_depth_and_strings(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        elif isinstance(node, str):
            _check_string(node)
            continue
        else:
            continue
        if depth > max_depth:
            raise InvalidInput(
                "json_too_deep", f"The JSON is nested deeper than {max_depth} levels."
            )
        stack.extend((child, depth + 1) for child in children)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "json_lone_surrogate", "A string holds a lone UTF-16 surrogate (\\ud800-\\udfff)."
        ) from None

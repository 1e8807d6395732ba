"""One error hierarchy for the whole service.

Every failure a caller can cause or meet is an ``IssuerError`` with a stable string
``code`` (part of the public interface: clients branch on it), a sentence for people and
optional ``details``. The web layer maps these to HTTP in exactly one place
(``issuer.web.errors``); domain code never knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class IssuerError(Exception):
    """Base class: a failure with a stable machine-readable code."""

    code = "issuer_error"

    def __init__(self, code: str | None = None, message: str = "", details: Any = None):
        self.code = code or type(self).code
        self.message = message or self.code
        self.details = details
        super().__init__(f"{self.code}: {self.message}")


class InvalidInput(IssuerError):
    """Something from outside (body, file, CSV row, framework file) is malformed."""

    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    """A body or upload is over its size limit."""

    code = "payload_too_large"


class NotFound(IssuerError):
    """The thing asked for does not exist, or the caller may not know that it does."""

    code = "not_found"


class Unauthorized(IssuerError):
    """No credentials, or credentials that do not identify anyone."""

    code = "unauthorized"


class Conflict(IssuerError):
    """The request contradicts the stored state (e.g. an idempotency key reused)."""

    code = "conflict"


class ConfigurationError(IssuerError):
    """The service is configured so that it must not start."""

    code = "configuration_error"


class TemplateError(IssuerError):
    """A badge template or framework file is broken."""

    code = "template_invalid"


class KeyringError(IssuerError):
    """Keys are missing, unreadable or unsafe."""

    code = "keyring_error"


class ProofError(IssuerError):
    """A proof cannot be made or does not verify."""

    code = "proof_invalid"


class CanonicalizationError(ProofError):
    """JSON-LD canonicalization refused the document (unknown context, dropped term...)."""

    code = "canonicalization_failed"


class Forbidden(IssuerError):
    """The caller is known but may not do this."""

    code = "forbidden"


class TooManyRequests(IssuerError):
    """The caller asked too often; ``retry_after`` says in how many seconds to ask again."""

    code = "rate_limited"

    def __init__(self, code: str, message: str, retry_after: int):
        super().__init__(code, message, {"retryAfter": retry_after})
        self.retry_after = retry_after


class BackupError(IssuerError):
    """A backup cannot be written, or a backup folder cannot be restored."""

    code = "backup_failed"


class Unavailable(IssuerError):
    """A dependency (the database) cannot answer now; ``retry_after`` says when to ask again."""

    code = "service_unavailable"

    def __init__(self, code: str, message: str, retry_after: int):
        super().__init__(code, message, {"retryAfter": retry_after})
        self.retry_after = retry_after

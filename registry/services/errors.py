"""Domain errors raised by services; views, the API and the CLI map them to their own answers."""

from collections.abc import Iterator
from contextlib import contextmanager


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(DomainError):
    """Input is malformed or breaks a rule about the data itself (HTTP 422)."""

    status = 422


class NotFound(DomainError):
    """The object does not exist, or is outside the actor's scope: the two are indistinguishable (404)."""

    status = 404


class Forbidden(DomainError):
    """The actor's role lacks the capability (403)."""

    status = 403

    def __init__(self, message: str, capability: str | None = None):
        super().__init__(message)
        self.capability = capability  # what was asked for: the denial's audit entry names it


class Conflict(DomainError):
    """Illegal transition, or someone else changed the object first (409)."""

    status = 409


@contextmanager
def refusals_as_conflict() -> Iterator[None]:
    """A lifecycle's refusal (IllegalTransition) becomes a Conflict (409) with the machine's reason,
    on the field a guard names."""
    from registry.machines import IllegalTransition

    try:
        yield
    except IllegalTransition as exc:
        raise Conflict(exc.reason, {exc.field: exc.reason} if exc.field else None) from None

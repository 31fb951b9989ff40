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


class Denial(DomainError):
    """A refused access: the web and the API answer it 403 or 404 (never a form message and a
    redirect) and the error handler audits it once, whoever raised it (registry.views.errors)."""

    #: What was asked for (a capability, or "<object>.scope"): the denial's audit entry names it.
    capability: str | None = None


class NotFound(Denial):
    """The object does not exist, or is outside the actor's scope: the two are indistinguishable (404)."""

    status = 404
    capability = "scope"


class Forbidden(Denial):
    """The actor's role lacks the capability (403)."""

    status = 403

    def __init__(self, message: str, capability: str | None = None):
        super().__init__(message)
        self.capability = capability


class Conflict(DomainError):
    """Illegal transition, or someone else changed the object first (409)."""

    status = 409


class Unavailable(DomainError):
    """The database was busy or out of reach (503): the client is told when to retry (Retry-After)
    and, in ``message``, whether anything was saved."""

    status = 503

    def __init__(self, message: str, retry_after: int = 10):
        super().__init__(message)
        self.retry_after = retry_after


@contextmanager
def refusals_as_conflict() -> Iterator[None]:
    """A lifecycle's refusal (IllegalTransition) becomes a Conflict (409) with the machine's reason,
    on the field a guard names."""
    from registry.machines import IllegalTransition

    try:
        yield
    except IllegalTransition as exc:
        raise Conflict(exc.reason, {exc.field: exc.reason} if exc.field else None) from None

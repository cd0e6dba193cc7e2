"""Domain errors the web layer maps to form errors and 4xx pages."""

from __future__ import annotations

from marketplace.i18n import _


class DomainError(Exception):
    """A rule was broken; `message` is translated and safe to show."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Several fields are wrong at once: {field: message}."""

    def __init__(self, errors: dict[str, str]) -> None:
        # Translators: joins several form errors into one message.
        super().__init__(_("；").join(errors.values()))
        self.errors = errors


class NotFound(Exception):
    """Missing, or belongs to another tenant: both look the same from outside (404).
    Not a DomainError, so form handlers that catch rule breaks let it through."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or _("找不到该记录")
        super().__init__(self.message)


class PermissionDenied(Exception):
    """The actor's role lacks the permission (403)."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or _("没有执行该操作的权限")
        super().__init__(self.message)


class Refused(DomainError):
    """A rule says this actor may not do this here (403, with a message saying why)."""


class InvalidTransition(DomainError):
    pass


class Throttled(DomainError):
    """Too many attempts; `retry_after` is the wait in seconds when it is known (429)."""

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after

"""Expected failures, typed, so that one table at each boundary maps them to statuses."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain enforces."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(DomainError):
    """The resource does not exist for this actor (absent, another clinic, or unseen)."""

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} not found")
        self.resource = resource


class NotOnCareTeam(NotFound):
    """A clinician asked for a plan whose team they are not on: it does not exist for them."""

    def __init__(self) -> None:
        super().__init__("care plan")


class Forbidden(DomainError):
    """The actor may see the resource but not do this to it."""


class NotYourDiscipline(Forbidden):
    """A clinician touched a goal or activity that another discipline owns."""


class StaleVersion(DomainError):
    """The caller's version is not the current one (If-Match failed)."""

    def __init__(self, resource: str, expected: int, current: int) -> None:
        super().__init__(
            f"{resource} has changed since version {expected}; it is now at version {current}"
        )
        self.current = current


class IllegalTransition(DomainError):
    """A state change the rules do not allow, with the reason."""


class Invalid(DomainError):
    """A value the rules reject, naming the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field)

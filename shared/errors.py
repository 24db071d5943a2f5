"""The one error type domain code raises for a request it cannot honour."""

from __future__ import annotations


class DomainError(Exception):
    """`field` names what to fix; `status` is the HTTP status an API answers with."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status

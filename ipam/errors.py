"""Errors IPAM raises; the API turns them into 4xx answers naming the field."""

from __future__ import annotations


class IpamError(Exception):
    """Base: ``status`` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"error": self.message, "field": self.field}


class BadInput(IpamError):
    status = 422

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", field)


class NotFound(IpamError):
    status = 404


class Conflict(IpamError):
    """Overlap, exhausted pool, wrong state: the request was fine, the plan says no."""

    status = 409


class Forbidden(IpamError):
    status = 403

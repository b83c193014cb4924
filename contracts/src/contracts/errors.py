"""Refusals a domain raises. Pure Python, so `domain` modules can raise them without I/O imports.

The HTTP layer maps them to problem+json: `CommandRefused` -> 422, `OutOfOrder` -> 409,
`NotFound` -> 404. A consumer that meets one sends the message to the dead-letter topic.
"""

from __future__ import annotations


class Refusal(Exception):
    """A command the domain will not carry out. `field` names the offending input when there is one."""

    status = 422

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code or type(self).__name__


class CommandRefused(Refusal):
    """The values are wrong for the business (a bad SIRET, an empty resolution procedure...)."""

    status = 422


class OutOfOrder(Refusal):
    """Right values, wrong moment: the process is not at that step (a second production order...)."""

    status = 409


class NotFound(Refusal):
    status = 404

"""Refusals a domain raises. Pure Python, so `domain` modules can raise them without I/O imports.

The HTTP layer maps them to problem+json: `CommandRefused` -> 422, `OutOfOrder` -> 409,
`NotFound` -> 404. A consumer that meets one sends the message to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class FieldProblem:
    """One wrong input among several: the field it is in, why, and a code a client can test."""

    field: str
    detail: str
    code: str | None = None


class Refusal(Exception):
    """A command the domain will not carry out. `field` names the offending input when there is one."""

    status = 422

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        code: str | None = None,
        problems: Sequence[FieldProblem] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code or type(self).__name__
        #: Every problem found, when there are several (the HTTP layer lists them all in `errors`).
        self.problems: tuple[FieldProblem, ...] = tuple(problems) or (
            (FieldProblem(field, detail, code),) if field else ()
        )

    @classmethod
    def of(cls, problems: Sequence[FieldProblem]) -> Self:
        """One refusal carrying several problems: the first one's detail, field and code, plus a
        count when there are more, so a client reading only `detail` still learns there are others."""
        first = problems[0]
        detail = first.detail if len(problems) == 1 else f"{first.detail} (and {len(problems) - 1} more)"
        return cls(detail, field=first.field, code=first.code, problems=problems)


class CommandRefused(Refusal):
    """The values are wrong for the business (a bad SIRET, an empty resolution procedure...)."""

    status = 422


class OutOfOrder(Refusal):
    """Right values, wrong moment: the process is not at that step (a second production order...)."""

    status = 409


class NotFound(Refusal):
    status = 404

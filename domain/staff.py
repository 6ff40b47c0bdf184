"""Staff members and the disciplines they practise."""

from __future__ import annotations

import re
import uuid

import msgspec

from domain.errors import Invalid
from domain.patient import require_text
from domain.vocab import Role

DISCIPLINE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class Staff(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    discipline: str
    role: Role
    email: str | None = None
    active: bool = True
    version: int = 1

    def validate(self, known_disciplines: set[str]) -> None:
        require_text("name", self.name, max_length=200)
        if self.discipline not in known_disciplines:
            raise Invalid("discipline", f"unknown discipline {self.discipline!r} in this clinic")


class Discipline(msgspec.Struct, kw_only=True):
    code: str
    display: str

    def validate(self) -> None:
        if not DISCIPLINE_CODE.match(self.code):
            raise Invalid("code", "lowercase letters, digits and underscores, 2 to 40 long")
        require_text("display", self.display, max_length=100)

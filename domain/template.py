"""A clinic's own wording of a patient message. It must keep the link, use only the
placeholders the message fills in, and speak of people person-first (NIDA, "Words Matter"):
a stigmatizing term is refused with its suggested alternative."""

from __future__ import annotations

import string

import msgspec

from domain.errors import Invalid
from domain.patient import SUPPORTED_LANGUAGES, require_text
from domain.words import Finding, check_text

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "check-in": frozenset({"first_name", "clinician", "url"}),
    "goal-review-reminder": frozenset({"first_name", "goals", "url"}),
}
"""What each kind of message fills in; `url` (the patient's link) is required."""


class StigmatizingLanguage(Invalid):
    def __init__(self, field: str, findings: list[Finding]) -> None:
        first = findings[0]
        super().__init__(field, f'"{first.matched}" is stigmatizing language; '
                                f'say "{first.suggestion}" instead')
        self.findings = findings


class MessageTemplate(msgspec.Struct, kw_only=True):
    kind: str
    language: str
    subject: str
    body_text: str
    version: int = 1

    def validate(self) -> None:
        if self.kind not in PLACEHOLDERS:
            raise Invalid("kind", f"one of {', '.join(sorted(PLACEHOLDERS))}")
        if self.language not in SUPPORTED_LANGUAGES:
            raise Invalid("language", f"one of {', '.join(SUPPORTED_LANGUAGES)}")
        require_text("subject", self.subject, max_length=300)
        require_text("body_text", self.body_text, max_length=4000)
        allowed = PLACEHOLDERS[self.kind]
        for field, text in (("subject", self.subject), ("body_text", self.body_text)):
            used = _placeholders(field, text)
            unknown = used - allowed
            if unknown:
                raise Invalid(field, f"unknown placeholder {{{sorted(unknown)[0]}}}; "
                                     f"use {', '.join('{' + p + '}' for p in sorted(allowed))}")
            findings = check_text(text)
            if findings:
                raise StigmatizingLanguage(field, findings)
        if "url" not in _placeholders("body_text", self.body_text):
            raise Invalid("body_text", "the message must carry the patient's link: {url}")

    def render(self, **values: str) -> tuple[str, str]:
        return self.subject.format(**values), self.body_text.format(**values)


def _placeholders(field: str, text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        raise Invalid(field, "unbalanced braces: write {{ or }} for a literal brace") from None

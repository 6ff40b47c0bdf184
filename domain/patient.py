"""Patients: who they are and how (and whether) they want to be reached."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import msgspec

from domain.errors import Invalid
from domain.vocab import Channel, ContactSystem

SUPPORTED_LANGUAGES = ("en", "es")
"""Languages the patient pages and message templates are written in."""


class ContactPoint(msgspec.Struct, kw_only=True):
    system: ContactSystem
    value: str


class QuietHours(msgspec.Struct, kw_only=True):
    """Local times between which no message is delivered; may wrap past midnight."""

    start: dt.time
    end: dt.time


class Identifier(msgspec.Struct, kw_only=True):
    system: str
    value: str


class Consent(msgspec.Struct, kw_only=True):
    """Consent to be messaged. Withdrawal wins from the moment it is recorded."""

    messages: bool = False
    given_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None


class Patient(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: dt.date
    time_zone: str = "UTC"
    language: str = "en"
    preferred_channel: Channel = Channel.EMAIL
    contact_points: list[ContactPoint] = msgspec.field(default_factory=list)
    identifiers: list[Identifier] = msgspec.field(default_factory=list)
    quiet_hours: QuietHours | None = None
    consent: Consent = msgspec.field(default_factory=Consent)
    version: int = 1

    def validate(self, today: dt.date) -> None:
        require_text("given_name", self.given_name, max_length=200)
        require_text("family_name", self.family_name, max_length=200)
        if self.birth_date > today:
            raise Invalid("birth_date", "birth date is in the future")
        validate_time_zone(self.time_zone)
        if self.language not in SUPPORTED_LANGUAGES:
            raise Invalid("language", f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        for index, point in enumerate(self.contact_points):
            validate_contact_point(f"contact_points[{index}].value", point)
        if self.quiet_hours is not None and self.quiet_hours.start == self.quiet_hours.end:
            raise Invalid("quiet_hours", "quiet hours start and end must differ")

    def set_consent(self, messages: bool, now: dt.datetime) -> None:
        if messages and not self.consent.messages:
            self.consent = Consent(messages=True, given_at=now)
        elif not messages and self.consent.messages:
            self.consent = Consent(messages=False, given_at=self.consent.given_at, withdrawn_at=now)


def require_text(field: str, value: str, *, max_length: int = 2000) -> None:
    if not value.strip():
        raise Invalid(field, "must not be blank")
    if "\x00" in value:
        raise Invalid(field, "must not contain NUL characters")
    if len(value) > max_length:
        raise Invalid(field, f"must be at most {max_length} characters")


def validate_time_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid("time_zone", "not an IANA time zone name") from None


def validate_contact_point(field: str, point: ContactPoint) -> None:
    value = point.value.strip()
    if point.system is ContactSystem.EMAIL:
        local, _, domain = value.partition("@")
        if not local or "." not in domain or " " in value:
            raise Invalid(field, "not an email address")
    else:
        digits = value[1:] if value.startswith("+") else value
        if not value.startswith("+") or not digits.isdigit() or not 8 <= len(digits) <= 15:
            raise Invalid(field, "phone numbers must be in E.164 form, e.g. +15555550123")

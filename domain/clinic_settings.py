"""A clinic's outreach settings: how often check-ins go, whether a recorded visit brings
one forward, how early goal-review reminders go, and how many messages a patient may get
a day.

A clinic that has never saved its settings reads the defaults at version 0; its first
update (If-Match `W/"0"`) creates them at version 1."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain import schedule
from domain.errors import Invalid

MAX_EVERY_DAYS = 90
MAX_REMINDER_DAYS_BEFORE = 30
MAX_MESSAGES_PER_DAY = 5


class ClinicSettings(msgspec.Struct, kw_only=True):
    clinic_id: uuid.UUID
    check_in_every_days: int = schedule.DEFAULT_CHECK_IN_EVERY_DAYS
    check_in_after_visit: bool = False
    reminder_days_before: int = schedule.DEFAULT_REMINDER_DAYS_BEFORE
    messages_per_day: int = schedule.DEFAULT_CAP_PER_DAY
    version: int = 0
    """0: never saved, these are the defaults."""
    updated_at: dt.datetime | None = None

    @property
    def cadence(self) -> schedule.CheckInCadence:
        return schedule.CheckInCadence(every_days=self.check_in_every_days,
                                       after_visit=self.check_in_after_visit)

    def validate(self) -> None:
        _bounded("check_in_every_days", self.check_in_every_days, 1, MAX_EVERY_DAYS, "days")
        _bounded("reminder_days_before", self.reminder_days_before, 0,
                 MAX_REMINDER_DAYS_BEFORE, "days")
        _bounded("messages_per_day", self.messages_per_day, 1, MAX_MESSAGES_PER_DAY,
                 "messages")


def _bounded(field: str, value: int, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not low <= value <= high:
        raise Invalid(field, f"between {low} and {high} {unit}")

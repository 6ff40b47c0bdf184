"""When outreach to a patient is due, and when it may actually go.

Two kinds of outreach leave Concord between visits: alliance check-ins (the alliance
items plus the PEG pain scale) and goal-review reminders. The rules, from the outreach
issue:

* Per plan, a check-in every `CheckInCadence.every_days` days (14 by default), and also
  after a visit is recorded if the clinic turns that on (`after_visit`).
* Goal-review reminders go to the patient and to the goal's owners a configurable number
  of days before the goal's next review date.
* Everything is reasoned in the patient's own time zone (IANA, via zoneinfo). A message
  due during the patient's quiet hours waits for the morning (the end of the quiet
  hours), and this stays right across daylight-saving changes.
* Consent is required, and an opt-out is honoured from the moment it is given: a message
  whose send time is at or after the withdrawal does not go, even if it was queued
  before.
* At most one message per patient per local calendar day by default; what falls due the
  same day is merged into that one message.
* A check-in created with `send_now` (the patient is in the waiting room) skips the
  quiet-hours wait and the daily cap. It never skips consent.

The quiet hours, the consent and the daily cap protect the patient; they govern messages
addressed to the patient. Reminders addressed to staff (the goal's owners) are the
clinic's own mail and are not held to them.

The pipeline a scheduler runs, per patient:
  1. `next_check_in` / `review_reminder_due` give the local calendar date something is
     due; `check_in_occurrence` / `review_reminder_occurrence` give its idempotency key
     (the outbox's unique occurrence key, so a scheduler that fires twice writes one row).
  2. `due_instant` turns the date into an instant (at `DEFAULT_SEND_TIME`, local).
  3. `deliver_at` moves the instant out of the quiet hours.
  4. `merge_due` merges the patient's pending items into at most `cap_per_day` messages
     per local day.
  5. At send time, `may_message` decides whether the message may go at all.

Time conventions
----------------
Instants cross this module's boundary as aware datetimes and come back in UTC; every
"local" reasoning converts with zoneinfo. Naive datetimes are refused (`Invalid`): a
naive value has no defined instant.

Quiet hours are the half-open local wall-clock window [start, end): a message may go at
exactly `end` and not at exactly `start`. A window whose start is later than its end
wraps midnight (21:00-08:00); otherwise it is within one day (13:00-14:00). A window
whose start equals its end is rejected by `Patient.validate`; met here anyway, it is
taken as empty (it silences nothing), because refusing to send at all would be a
decision the patient never made.

Daylight-saving choices (documented here once, relied on everywhere):
* `deliver_at` returns the *earliest instant* at or after `due` whose local wall time is
  outside the quiet hours. Every other rule below is a consequence of that one.
* Nonexistent local times (the spring-forward gap): if the end of the quiet hours falls
  in the gap (quiet hours 21:00-02:30 in New York on 2026-03-08, when 02:00 becomes
  03:00), the message goes at the first valid instant after the gap: the moment of the
  change, 03:00 local. `due_instant` resolves a nonexistent send time the same way.
* Ambiguous local times (the fall-back fold): the end of the quiet hours is met at its
  first occurrence (fold=0, the earlier instant) when the message is already waiting by
  then; a message that only falls due during the repeated hour waits for the second
  occurrence (fold=1), because the first one is already past. `due_instant` resolves an
  ambiguous send time to the first occurrence.
* A clock that falls back *out of* the quiet window ends it early: with quiet hours
  01:30-02:00 in New York on 2026-11-01, a message waiting at 01:40 EDT goes at 02:00
  EDT = 01:00 EST, the instant the wall clock leaves the window.
* Nights are as long as the wall clock says: on the spring-forward night a 21:00-08:00
  window holds a message one hour less than usual, on the fall-back night one hour more.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo
from collections.abc import Iterable

import msgspec

from domain.errors import Invalid
from domain.patient import Consent, QuietHours, validate_time_zone
from domain.vocab import PATIENT_PARTICIPANT

UTC = dt.UTC

DEFAULT_CHECK_IN_EVERY_DAYS = 14
"""The issue's default cadence: a check-in every 14 days."""

MAX_CHECK_IN_EVERY_DAYS = 366
"""A cadence longer than a year is not a cadence; the same bound as goal reviews."""

AFTER_VISIT_DELAY_DAYS = 1
"""A visit-triggered check-in is due the day after the visit: the question is about the
visit, asked once the patient is home, and never during the visit itself (staff who want
that use `send_now`)."""

DEFAULT_REMINDER_DAYS_BEFORE = 3
"""Goal-review reminders go this many days before the review by default (the issue makes
it configurable; three days leaves time to think about the goal before the visit)."""

MAX_REMINDER_DAYS_BEFORE = 366

DEFAULT_SEND_TIME = dt.time(10, 0)
"""The local time a message due on a calendar date is sent: mid-morning, after any usual
quiet hours and within clinic hours, so that a reply can be answered the same day."""

DEFAULT_CAP_PER_DAY = 1
"""At most one message per patient per local day (the issue's default)."""

_DAY = dt.timedelta(days=1)
_DAY_US = 86_400_000_000
_PROBE = dt.timedelta(hours=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = dt.timedelta(seconds=1)


class OutreachKind(enum.StrEnum):
    CHECK_IN = "check-in"
    GOAL_REVIEW_REMINDER = "goal-review-reminder"


class CheckInCadence(msgspec.Struct, kw_only=True, frozen=True):
    """How often a plan's check-ins fall due.

    `every_days`: the issue's cadence, 14 by default. `after_visit`: the clinic's switch
    for "also after a visit is recorded"."""

    every_days: int = DEFAULT_CHECK_IN_EVERY_DAYS
    after_visit: bool = False

    def validate(self) -> None:
        if not 1 <= self.every_days <= MAX_CHECK_IN_EVERY_DAYS:
            raise Invalid(
                "check_in_cadence.every_days",
                f"between 1 and {MAX_CHECK_IN_EVERY_DAYS} days",
            )


class ConsentReason(enum.StrEnum):
    """Why `may_message` said yes or no."""

    CONSENTED = "consented"
    NO_CONSENT = "no-consent"
    """Never given, or not yet given at the send time."""
    WITHDRAWN = "withdrawn"
    """Withdrawn at or before the send time."""


class DueItem(msgspec.Struct, kw_only=True, frozen=True):
    """One piece of outreach addressed to the patient, with its delivery instant already
    passed through `deliver_at`."""

    kind: OutreachKind
    key: str
    """The occurrence key (`check_in_occurrence`, `review_reminder_occurrence`)."""
    deliver_at: dt.datetime
    send_now: bool = False


class Batch(msgspec.Struct, kw_only=True, frozen=True):
    """One message to the patient, carrying one or more due items."""

    local_date: dt.date
    """The patient's local calendar day the message goes on."""
    deliver_at: dt.datetime
    """UTC; the earliest `deliver_at` of its items."""
    items: tuple[DueItem, ...]
    send_now: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)


# --- calendar rules -------------------------------------------------------------------


def next_check_in(
    last_sent_or_scheduled: dt.date | None,
    plan_started: dt.date,
    cadence: CheckInCadence,
    today_local: dt.date,
    *,
    last_visit: dt.date | None = None,
) -> dt.date:
    """The patient-local calendar date the plan's next check-in is due.

    The cadence counts from the last check-in sent or scheduled, or from the plan's
    start when there has been none (the first one is due `every_days` after the start;
    a check-in at the start itself is the waiting room's `send_now`). With
    `cadence.after_visit` on, a visit recorded after the last check-in brings the next
    one forward to `AFTER_VISIT_DELAY_DAYS` after the visit; a check-in already sent or
    scheduled on or after the visit day covers that visit.

    An overdue check-in is due today, never in the past: a missed check-in goes once,
    late, and never as a burst of catch-ups. The cadence then counts from the day it
    actually went.
    """
    cadence.validate()
    counting_from = plan_started if last_sent_or_scheduled is None else last_sent_or_scheduled
    due = counting_from + dt.timedelta(days=cadence.every_days)
    if (
        cadence.after_visit
        and last_visit is not None
        and (last_sent_or_scheduled is None or last_visit > last_sent_or_scheduled)
    ):
        due = min(due, last_visit + dt.timedelta(days=AFTER_VISIT_DELAY_DAYS))
    return max(due, today_local)


def reminder_due_on(next_review_date: dt.date, days_before: int) -> dt.date:
    """The date a goal-review reminder is due: `days_before` days before the review."""
    _check_days_before(days_before)
    return next_review_date - dt.timedelta(days=days_before)


def review_reminder_due(
    next_review_date: dt.date | None,
    days_before: int,
    today_local: dt.date,
) -> dt.date | None:
    """When the reminder for a goal's next review is due, seen from `today_local`.

    None when the goal has no next review date or the review day has passed (a reminder
    for a review that is over reminds no one). A reminder whose day has already gone
    while the review is still ahead (the review was set closer than `days_before`) is
    due today."""
    _check_days_before(days_before)
    if next_review_date is None or next_review_date < today_local:
        return None
    return max(reminder_due_on(next_review_date, days_before), today_local)


def reminder_audiences(goal_owners: Iterable[str]) -> tuple[str, ...]:
    """Who a goal-review reminder goes to: the patient and each of the goal's owning
    disciplines, once each, in a stable order."""
    return (PATIENT_PARTICIPANT, *sorted(set(goal_owners) - {PATIENT_PARTICIPANT}))


def check_in_occurrence(plan_id: uuid.UUID, due_date: dt.date) -> str:
    """The idempotency key of a plan's check-in due on `due_date` (patient-local).

    Derived from what the occurrence is, so every scheduler run that finds the same
    check-in due computes the same key and the outbox's unique key keeps one row. One
    check-in per plan per local day: a waiting-room (`send_now`) check-in on the day a
    regular one falls due is the same occurrence."""
    return f"{OutreachKind.CHECK_IN}:{plan_id}:{due_date.isoformat()}"


def review_reminder_occurrence(goal_id: uuid.UUID, next_review_date: dt.date, audience: str) -> str:
    """The idempotency key of the reminder to `audience` (`patient` or an owning
    discipline's code) for the goal's review on `next_review_date`.

    Keyed on the review date, not the reminder date: a review moved to another date gets
    its own reminder, while a change of `days_before` after the reminder went does not
    send a second one for the same review."""
    if not audience or audience != audience.strip() or any(c.isspace() for c in audience):
        raise Invalid("audience", "a participant code without spaces")
    return (
        f"{OutreachKind.GOAL_REVIEW_REMINDER}:{goal_id}:{next_review_date.isoformat()}:{audience}"
    )


# --- instants -------------------------------------------------------------------------


def local_date(instant: dt.datetime, patient_tz: str) -> dt.date:
    """The patient's local calendar date at `instant` (e.g. `today_local` from now)."""
    return _as_utc(instant, "instant").astimezone(_zone(patient_tz)).date()


def due_instant(day: dt.date, patient_tz: str, at: dt.time = DEFAULT_SEND_TIME) -> dt.datetime:
    """The UTC instant of local wall time `at` on local date `day` in the patient's zone.

    A nonexistent wall time (in a spring-forward gap) resolves forward to the first valid
    instant, the moment of the change; an ambiguous one (in a fall-back fold) resolves to
    its first occurrence (fold=0)."""
    zone = _zone(patient_tz)
    naive = dt.datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # exists; if ambiguous, fold=0 is the earlier instant
    # In a gap, fold=0 reads the wall time with the offset before the change and fold=1
    # with the offset after it (PEP 495): the change lies between the two readings.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = sorted((first, other))
    change = _next_offset_change(low, zone, until=high)
    if change is None:  # pragma: no cover - zoneinfo always puts a gap between them
        raise AssertionError("a nonexistent local time without an offset change")
    return change


def deliver_at(
    due: dt.datetime,
    patient_tz: str,
    quiet: QuietHours | None,
    *,
    send_now: bool = False,
) -> dt.datetime:
    """When a message due at `due` may be delivered: the earliest instant at or after
    `due` whose local wall time in `patient_tz` is outside the quiet hours, in UTC.

    A message due at night waits for the morning (the issue's rule): inside the quiet
    hours it moves to their end in local wall time. With `send_now` (the patient is in
    the waiting room) it goes at `due`, quiet hours or not. The daylight-saving choices
    are in the module docstring: gaps resolve forward to the first valid instant,
    folds to the first occurrence that is not already past.

    The result is outside the quiet hours by construction, so applying `deliver_at` to
    its own result returns it unchanged.
    """
    instant = _as_utc(due, "due")
    if send_now or quiet is None:
        return instant
    start, end = _micros(quiet.start), _micros(quiet.end)
    if start == end:
        return instant
    zone = _zone(patient_tz)
    while True:
        wall = _micros(instant.astimezone(zone).time())
        if not _in_window(wall, start, end):
            return instant
        # While the UTC offset stays the same, the wall clock runs with UTC and reaches the
        # end of the window this much later:
        reaches_end = instant + dt.timedelta(microseconds=(end - wall) % _DAY_US)
        change = _next_offset_change(instant, zone, until=reaches_end)
        if change is None:
            return reaches_end
        # The clock jumps first (forward over the end, or back out of the window):
        # look again from the jump. Each turn moves strictly forward, at most a day.
        instant = change


# --- consent --------------------------------------------------------------------------


def may_message(consent: Consent, at: dt.datetime) -> tuple[bool, ConsentReason]:
    """Whether a message sent at `at` is covered by the patient's consent.

    Consent holds from `given_at` (when recorded) until `withdrawn_at`, exclusive: a
    message whose send time is at or after the withdrawal must not go, even if it was
    queued before it (the issue: "an opt-out honoured from the moment it is given").
    Asked about a send time before the withdrawal, the answer is what held then. A
    consent given again after a withdrawal holds from its own `given_at`; a record that
    says `messages` but carries a later withdrawal is read as withdrawn (withdrawal wins).
    There is no `send_now` here: being in the waiting room is not consent.
    """
    instant = _as_utc(at, "at")
    given = None if consent.given_at is None else _as_utc(consent.given_at, "consent.given_at")
    withdrawn = (
        None
        if consent.withdrawn_at is None
        else _as_utc(consent.withdrawn_at, "consent.withdrawn_at")
    )
    if withdrawn is not None and instant >= withdrawn:
        regiven = consent.messages and given is not None and given > withdrawn
        if not (regiven and given is not None and instant >= given):
            return False, ConsentReason.WITHDRAWN
    was_given = consent.messages or withdrawn is not None
    if not was_given or (given is not None and instant < given):
        return False, ConsentReason.NO_CONSENT
    return True, ConsentReason.CONSENTED


# --- the daily cap --------------------------------------------------------------------


def merge_due(
    items: Iterable[DueItem],
    patient_tz: str,
    cap_per_day: int = DEFAULT_CAP_PER_DAY,
) -> list[Batch]:
    """Merge one patient's due items into messages: at most `cap_per_day` per local
    calendar day (the issue: "at most one message per patient per day by default,
    merging what is due").

    Items are grouped by the local day of their `deliver_at`. Items deliverable at the
    same instant always share a message. When a day holds more distinct instants than
    the cap, the first `cap_per_day - 1` go alone and the rest are merged into the last
    message. Beyond the cap, items are merged within their day rather than rolled to the
    next one: nothing is delayed by the cap, and a message goes at the earliest
    `deliver_at` of its items, which is outside the quiet hours because every item's is
    (the later items of the day go a few hours early, on the day they are due).

    `send_now` items bypass the cap: each is a message of its own and does not count
    towards its day. Items are never dropped or deduplicated here; the outbox's unique
    occurrence key is what keeps one row per occurrence.

    Batches come back in delivery order.
    """
    if cap_per_day < 1:
        raise Invalid("cap_per_day", "at least one message a day")
    zone = _zone(patient_tz)
    batches: list[Batch] = []
    by_day: dict[dt.date, dict[dt.datetime, list[DueItem]]] = {}
    for index, item in enumerate(items):
        instant = _as_utc(item.deliver_at, f"items[{index}].deliver_at")
        day = instant.astimezone(zone).date()
        if item.send_now:
            batches.append(Batch(local_date=day, deliver_at=instant, items=(item,), send_now=True))
        else:
            by_day.setdefault(day, {}).setdefault(instant, []).append(item)
    for day, slots in by_day.items():
        ordered = [
            (instant, sorted(slots[instant], key=lambda item: (item.kind, item.key)))
            for instant in sorted(slots)
        ]
        if len(ordered) > cap_per_day:
            kept, merged = ordered[: cap_per_day - 1], ordered[cap_per_day - 1 :]
            ordered = [*kept, (merged[0][0], [item for _, group in merged for item in group])]
        for instant, group in ordered:
            batches.append(Batch(local_date=day, deliver_at=instant, items=tuple(group)))
    batches.sort(key=lambda batch: (batch.deliver_at, not batch.send_now, batch.keys))
    return batches


# --- helpers --------------------------------------------------------------------------


def _check_days_before(days_before: int) -> None:
    if not 0 <= days_before <= MAX_REMINDER_DAYS_BEFORE:
        raise Invalid("days_before", f"between 0 and {MAX_REMINDER_DAYS_BEFORE} days")


def _zone(name: str) -> zoneinfo.ZoneInfo:
    validate_time_zone(name)
    return zoneinfo.ZoneInfo(name)


def _as_utc(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(field, "must be a date-time with a UTC offset")
    return value.astimezone(UTC)


def _micros(wall: dt.time) -> int:
    """Microseconds since local midnight, by the wall clock."""
    return ((wall.hour * 60 + wall.minute) * 60 + wall.second) * 1_000_000 + wall.microsecond


def _in_window(wall: int, start: int, end: int) -> bool:
    """Whether a wall time is inside the half-open quiet window [start, end)."""
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def _offset(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _next_offset_change(
    after: dt.datetime, zone: zoneinfo.ZoneInfo, *, until: dt.datetime
) -> dt.datetime | None:
    """The first instant in (after, until] at which the zone's UTC offset differs from
    its offset at `after`, or None.

    Probes hourly, then bisects to the second. Relies on two facts of the tz database:
    offset changes happen at whole UTC seconds (TZif stores them as integer seconds,
    RFC 8536), and two changes are never within an hour of each other (the closest pair
    in tzdata 2025b, checked when this was written, is four days apart)."""
    base = _offset(after, zone)
    low = after
    while low < until:
        high = min(low + _PROBE, until)
        if _offset(high, zone) != base:
            return _bisect_change(low, high, zone, base)
        low = high
    return None


def _bisect_change(
    low: dt.datetime, high: dt.datetime, zone: zoneinfo.ZoneInfo, base: dt.timedelta | None
) -> dt.datetime:
    # Changes fall on whole seconds, so flooring either end keeps its offset.
    low_s = (low - _EPOCH) // _SECOND
    high_s = (high - _EPOCH) // _SECOND
    while high_s - low_s > 1:
        mid = (low_s + high_s) // 2
        if _offset(_EPOCH + mid * _SECOND, zone) == base:
            low_s = mid
        else:
            high_s = mid
    return _EPOCH + high_s * _SECOND

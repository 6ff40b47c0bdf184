"""Outreach scheduling: cadence, reminders, quiet hours across DST, consent, daily cap.

Where the expected values come from
-----------------------------------
The rules are the outreach issue's (see domain/schedule.py). Every expected instant in the
example tests is worked out BY HAND from the zone's published rules, with the arithmetic
next to it; none is produced by calling the code under test. The rules used (tz database,
as in force for 2026):
  America/New_York   EST UTC-5, EDT UTC-4. DST from the second Sunday of March 02:00
                     (2026-03-08, 02:00 EST = 07:00 UTC, the clock goes to 03:00) to the
                     first Sunday of November 02:00 (2026-11-01, 02:00 EDT = 06:00 UTC, the
                     clock goes back to 01:00).
  Europe/London      GMT UTC+0, BST UTC+1; changes at 01:00 UTC on the last Sundays of
                     March (2026-03-29) and October (2026-10-25).
  Australia/Lord_Howe  UTC+10:30, DST UTC+11 (a 30-minute shift): from the first Sunday
                     of October 02:00 (2026-10-04; 02:00 +10:30 = 2026-10-03 15:30 UTC,
                     the clock goes to 02:30) to the first Sunday of April 02:00
                     (2026-04-05; 02:00 +11 = 2026-04-04 15:00 UTC, back to 01:30).
  Asia/Kolkata       UTC+5:30 all year.
  Pacific/Chatham    UTC+12:45, DST UTC+13:45: from the last Sunday of September 02:45
                     (2026-09-27; 02:45 +12:45 = 2026-09-26 14:00 UTC, the clock goes to
                     03:45) to the first Sunday of April 03:45 (2026-04-05; 03:45 +13:45 =
                     2026-04-04 14:00 UTC, back to 02:45).

The property-based tests check `deliver_at` against a brute-force minute scan written
independently here, for zones sampled from zoneinfo.available_timezones().
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import Invalid
from domain.patient import Consent, Patient, QuietHours
from domain.schedule import (
    AFTER_VISIT_DELAY_DAYS,
    DEFAULT_SEND_TIME,
    Batch,
    CheckInCadence,
    ConsentReason,
    DueItem,
    OutreachKind,
    check_in_occurrence,
    deliver_at,
    due_instant,
    local_date,
    may_message,
    merge_due,
    next_check_in,
    reminder_audiences,
    reminder_due_on,
    review_reminder_due,
    review_reminder_occurrence,
)

UTC = dt.UTC
NY = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
KOLKATA = "Asia/Kolkata"
CHATHAM = "Pacific/Chatham"

NIGHT = QuietHours(start=dt.time(21, 0), end=dt.time(8, 0))
LUNCH = QuietHours(start=dt.time(13, 0), end=dt.time(14, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def quiet(start: str, end: str) -> QuietHours:
    return QuietHours(start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end))


# --- check-in cadence -----------------------------------------------------------------

START = dt.date(2026, 1, 5)


class TestNextCheckIn:
    def test_first_check_in_is_every_days_after_the_plan_starts(self) -> None:
        # 5 January + 14 days = 19 January.
        assert next_check_in(None, START, CheckInCadence(), START) == dt.date(2026, 1, 19)

    def test_the_cadence_counts_from_the_last_check_in(self) -> None:
        # 20 January + 14 = 3 February; every 7 days: 27 January.
        last = dt.date(2026, 1, 20)
        assert next_check_in(last, START, CheckInCadence(), last) == dt.date(2026, 2, 3)
        assert next_check_in(last, START, CheckInCadence(every_days=7), last) == dt.date(
            2026, 1, 27
        )

    def test_an_overdue_check_in_is_due_today_once_not_as_a_backlog(self) -> None:
        today = dt.date(2026, 4, 1)  # 19 January was missed long ago
        assert next_check_in(None, START, CheckInCadence(), today) == today

    def test_a_visit_brings_the_check_in_forward_when_the_clinic_turns_it_on(self) -> None:
        last, visit = dt.date(2026, 1, 20), dt.date(2026, 1, 23)
        on = CheckInCadence(after_visit=True)
        # The day after the visit: 24 January, before the cadence's 3 February.
        assert AFTER_VISIT_DELAY_DAYS == 1
        assert next_check_in(last, START, on, visit, last_visit=visit) == dt.date(2026, 1, 24)
        # Off (the default): the visit changes nothing.
        off = CheckInCadence()
        assert next_check_in(last, START, off, visit, last_visit=visit) == dt.date(2026, 2, 3)

    def test_a_check_in_on_or_after_the_visit_day_already_covers_it(self) -> None:
        on = CheckInCadence(after_visit=True)
        same_day = dt.date(2026, 1, 20)
        assert next_check_in(same_day, START, on, same_day, last_visit=same_day) == dt.date(
            2026, 2, 3
        )

    def test_a_visit_before_any_check_in_counts(self) -> None:
        on = CheckInCadence(after_visit=True)
        visit = dt.date(2026, 1, 8)
        assert next_check_in(None, START, on, visit, last_visit=visit) == dt.date(2026, 1, 9)

    @pytest.mark.parametrize("every_days", [0, -1, 367])
    def test_the_cadence_is_bounded(self, every_days: int) -> None:
        with pytest.raises(Invalid) as caught:
            next_check_in(None, START, CheckInCadence(every_days=every_days), START)
        assert caught.value.field == "check_in_cadence.every_days"

    @settings(max_examples=200, deadline=None)
    @given(
        last=st.none() | st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)),
        visit=st.none() | st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)),
        today=st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)),
        every_days=st.integers(1, 366),
        after_visit=st.booleans(),
    )
    def test_never_in_the_past_and_never_later_than_the_cadence(
        self,
        last: dt.date | None,
        visit: dt.date | None,
        today: dt.date,
        every_days: int,
        after_visit: bool,
    ) -> None:
        cadence = CheckInCadence(every_days=every_days, after_visit=after_visit)
        due = next_check_in(last, START, cadence, today, last_visit=visit)
        regular = (last or START) + dt.timedelta(days=every_days)
        assert due >= today
        assert due <= max(regular, today)


# --- goal-review reminders ------------------------------------------------------------


class TestReviewReminders:
    def test_days_before_the_review(self) -> None:
        # 10 March - 3 days = 7 March; 0 days: the review day itself.
        assert reminder_due_on(dt.date(2026, 3, 10), 3) == dt.date(2026, 3, 7)
        assert reminder_due_on(dt.date(2026, 3, 10), 0) == dt.date(2026, 3, 10)

    def test_a_review_set_closer_than_the_lead_is_reminded_today(self) -> None:
        today = dt.date(2026, 3, 9)
        assert review_reminder_due(dt.date(2026, 3, 10), 3, today) == today

    def test_no_reminder_for_a_past_review_or_a_goal_without_one(self) -> None:
        today = dt.date(2026, 3, 11)
        assert review_reminder_due(dt.date(2026, 3, 10), 3, today) is None
        assert review_reminder_due(None, 3, today) is None

    def test_a_future_reminder_keeps_its_date(self) -> None:
        assert review_reminder_due(dt.date(2026, 3, 10), 3, dt.date(2026, 3, 1)) == dt.date(
            2026, 3, 7
        )

    @pytest.mark.parametrize("days_before", [-1, 367])
    def test_days_before_is_bounded(self, days_before: int) -> None:
        with pytest.raises(Invalid) as caught:
            reminder_due_on(dt.date(2026, 3, 10), days_before)
        assert caught.value.field == "days_before"

    def test_the_patient_and_each_owner_once(self) -> None:
        owners = ["physician", "psychologist", "physician", "patient"]
        assert reminder_audiences(owners) == ("patient", "physician", "psychologist")


# --- occurrence keys ------------------------------------------------------------------

PLAN = uuid.UUID("00000000-0000-4000-8000-000000000001")
GOAL = uuid.UUID("00000000-0000-4000-8000-000000000002")


class TestOccurrenceKeys:
    def test_check_in_key_is_what_it_is(self) -> None:
        key = check_in_occurrence(PLAN, dt.date(2026, 3, 8))
        assert key == f"check-in:{PLAN}:2026-03-08"
        assert key == check_in_occurrence(PLAN, dt.date(2026, 3, 8))  # deterministic
        assert key != check_in_occurrence(PLAN, dt.date(2026, 3, 9))
        assert key != check_in_occurrence(uuid.uuid4(), dt.date(2026, 3, 8))

    def test_reminder_key_per_review_date_and_audience(self) -> None:
        day = dt.date(2026, 3, 10)
        patient = review_reminder_occurrence(GOAL, day, "patient")
        assert patient == f"goal-review-reminder:{GOAL}:2026-03-10:patient"
        assert patient != review_reminder_occurrence(GOAL, day, "physician")
        assert patient != review_reminder_occurrence(GOAL, dt.date(2026, 3, 11), "patient")

    @pytest.mark.parametrize("audience", ["", " patient", "physical therapist"])
    def test_audience_is_a_code(self, audience: str) -> None:
        with pytest.raises(Invalid):
            review_reminder_occurrence(GOAL, dt.date(2026, 3, 10), audience)


# --- due_instant ----------------------------------------------------------------------


class TestDueInstant:
    @pytest.mark.parametrize(
        ("day", "zone", "at", "expected"),
        [
            # 10:00 EST (UTC-5) = 15:00 UTC; the day after the change 10:00 EDT = 14:00.
            (dt.date(2026, 3, 7), NY, "10:00", utc(2026, 3, 7, 15)),
            (dt.date(2026, 3, 8), NY, "10:00", utc(2026, 3, 8, 14)),
            # 02:30 does not exist on 8 March: the first valid instant is the change,
            # 02:00 EST = 07:00 UTC (03:00 EDT).
            (dt.date(2026, 3, 8), NY, "02:30", utc(2026, 3, 8, 7)),
            # 01:30 happens twice on 1 November: first as EDT, 01:30 + 4 h = 05:30 UTC.
            (dt.date(2026, 11, 1), NY, "01:30", utc(2026, 11, 1, 5, 30)),
            # 02:10 does not exist on Lord Howe on 4 October: the change, 15:30 UTC.
            (dt.date(2026, 10, 4), LORD_HOWE, "02:10", utc(2026, 10, 3, 15, 30)),
            # 01:45 happens twice on Lord Howe on 5 April: first at +11: 14:45 UTC on
            # the 4th.
            (dt.date(2026, 4, 5), LORD_HOWE, "01:45", utc(2026, 4, 4, 14, 45)),
            # 10:00 IST - 5:30 = 04:30 UTC.
            (dt.date(2026, 7, 1), KOLKATA, "10:00", utc(2026, 7, 1, 4, 30)),
            # 03:00 does not exist on Chatham on 27 September: the change, 14:00 UTC on
            # the 26th.
            (dt.date(2026, 9, 27), CHATHAM, "03:00", utc(2026, 9, 26, 14)),
        ],
    )
    def test_examples(self, day: dt.date, zone: str, at: str, expected: dt.datetime) -> None:
        got = due_instant(day, zone, dt.time.fromisoformat(at))
        assert got == expected
        assert got.tzinfo is UTC

    def test_default_send_time_is_mid_morning(self) -> None:
        assert dt.time(10, 0) == DEFAULT_SEND_TIME
        assert due_instant(dt.date(2026, 6, 1), LONDON) == utc(2026, 6, 1, 9)  # BST

    def test_an_unknown_zone_is_invalid(self) -> None:
        with pytest.raises(Invalid) as caught:
            due_instant(dt.date(2026, 6, 1), "Mars/Olympus_Mons")
        assert caught.value.field == "time_zone"


# --- deliver_at -----------------------------------------------------------------------


class TestDeliverAt:
    @pytest.mark.parametrize(
        ("zone", "hours", "due", "expected"),
        [
            # New York, spring forward (2026-03-08 07:00 UTC, 02:00 EST -> 03:00 EDT).
            # Due 23:00 EST on the 7th (04:00 UTC on the 8th): the night ends at 08:00
            # EDT = 12:00 UTC, one hour earlier in UTC than on an ordinary night.
            pytest.param(NY, NIGHT, utc(2026, 3, 8, 4), utc(2026, 3, 8, 12), id="ny-spring"),
            # Quiet hours ending at 02:30, which does not exist that night: due 01:00
            # EST (06:00 UTC), goes at the change, 07:00 UTC = 03:00 EDT.
            pytest.param(
                NY,
                quiet("21:00", "02:30"),
                utc(2026, 3, 8, 6),
                utc(2026, 3, 8, 7),
                id="ny-spring-gap",
            ),
            # New York, fall back (2026-11-01 06:00 UTC, 02:00 EDT -> 01:00 EST).
            # Due 21:30 EDT on 31 October (01:30 UTC): 08:00 EST = 13:00 UTC.
            pytest.param(NY, NIGHT, utc(2026, 11, 1, 1, 30), utc(2026, 11, 1, 13), id="ny-fall"),
            # Quiet until 01:30, which happens twice: waiting since 22:00 EDT, the message
            # goes at the first 01:30 (EDT) = 05:30 UTC.
            pytest.param(
                NY,
                quiet("21:00", "01:30"),
                utc(2026, 11, 1, 2),
                utc(2026, 11, 1, 5, 30),
                id="ny-fold-first",
            ),
            # Due at 01:10 EST (06:10 UTC), the first 01:30 is past: the second, 01:30
            # EST = 06:30 UTC.
            pytest.param(
                NY,
                quiet("21:00", "01:30"),
                utc(2026, 11, 1, 6, 10),
                utc(2026, 11, 1, 6, 30),
                id="ny-fold-second",
            ),
            # Quiet 01:30-02:00, due 01:40 EDT (05:40 UTC): the wall clock never reaches
            # 02:00 EDT; at 06:00 UTC it falls back to 01:00 EST, outside the window.
            pytest.param(
                NY,
                quiet("01:30", "02:00"),
                utc(2026, 11, 1, 5, 40),
                utc(2026, 11, 1, 6),
                id="ny-fall-out-of-window",
            ),
            # London, spring forward (2026-03-29 01:00 UTC). Due 23:30 GMT on the 28th:
            # 07:00 BST = 06:00 UTC.
            pytest.param(
                LONDON,
                quiet("22:00", "07:00"),
                utc(2026, 3, 28, 23, 30),
                utc(2026, 3, 29, 6),
                id="london-spring",
            ),
            # London, fall back (2026-10-25 01:00 UTC). Due 23:30 BST on the 24th (22:30
            # UTC): 07:00 GMT = 07:00 UTC.
            pytest.param(
                LONDON,
                quiet("22:00", "07:00"),
                utc(2026, 10, 24, 22, 30),
                utc(2026, 10, 25, 7),
                id="london-fall",
            ),
            # Lord Howe, 30-minute spring forward (2026-10-03 15:30 UTC, 02:00 -> 02:30).
            # Due 22:30 +10:30 (12:00 UTC), quiet until 02:15, which does not exist: the
            # change, 15:30 UTC.
            pytest.param(
                LORD_HOWE,
                quiet("21:00", "02:15"),
                utc(2026, 10, 3, 12),
                utc(2026, 10, 3, 15, 30),
                id="lord-howe-gap",
            ),
            # Same night, quiet until 08:00: 08:00 +11 = 21:00 UTC on the 3rd.
            pytest.param(
                LORD_HOWE, NIGHT, utc(2026, 10, 3, 12), utc(2026, 10, 3, 21), id="lord-howe-spring"
            ),
            # Lord Howe, 30-minute fall back (2026-04-04 15:00 UTC, 02:00 -> 01:30). Due
            # 22:00 +11 (11:00 UTC), quiet until 01:45, which happens twice: the first,
            # 01:45 +11 = 14:45 UTC.
            pytest.param(
                LORD_HOWE,
                quiet("21:00", "01:45"),
                utc(2026, 4, 4, 11),
                utc(2026, 4, 4, 14, 45),
                id="lord-howe-fold",
            ),
            # Kolkata, no DST. Due 22:30 IST (17:00 UTC): 08:00 IST = 02:30 UTC.
            pytest.param(
                KOLKATA, NIGHT, utc(2026, 6, 1, 17), utc(2026, 6, 2, 2, 30), id="kolkata-night"
            ),
            # Chatham, spring forward (2026-09-26 14:00 UTC, 02:45 -> 03:45). Due 22:45
            # +12:45 (10:00 UTC), quiet until 03:00, which does not exist: the change.
            pytest.param(
                CHATHAM,
                quiet("22:00", "03:00"),
                utc(2026, 9, 26, 10),
                utc(2026, 9, 26, 14),
                id="chatham-gap",
            ),
            # Same night, quiet until 07:00: 07:00 +13:45 = 17:15 UTC on the 26th.
            pytest.param(
                CHATHAM,
                quiet("22:00", "07:00"),
                utc(2026, 9, 26, 10),
                utc(2026, 9, 26, 17, 15),
                id="chatham-spring",
            ),
        ],
    )
    def test_examples(
        self, zone: str, hours: QuietHours, due: dt.datetime, expected: dt.datetime
    ) -> None:
        got = deliver_at(due, zone, hours)
        assert got == expected
        assert got.tzinfo is UTC

    @pytest.mark.parametrize(
        ("local", "expected_local"),
        [
            ("12:59", "12:59"),  # before the window: unchanged
            ("13:00", "14:00"),  # the window's start is quiet
            ("13:30", "14:00"),
            ("14:00", "14:00"),  # its end is not
            ("20:00", "20:00"),
        ],
    )
    def test_a_window_within_the_day(self, local: str, expected_local: str) -> None:
        # Kolkata, UTC+5:30 all year: local - 5:30 = UTC.
        def at(hhmm: str) -> dt.datetime:
            naive = dt.datetime.combine(dt.date(2026, 6, 1), dt.time.fromisoformat(hhmm))
            return naive.replace(tzinfo=UTC) - dt.timedelta(hours=5, minutes=30)

        assert deliver_at(at(local), KOLKATA, LUNCH) == at(expected_local)

    def test_the_end_of_a_wrapping_window_is_the_same_morning_after_midnight(self) -> None:
        # 03:00 EDT on 2 June (07:00 UTC) -> 08:00 EDT the same day = 12:00 UTC.
        assert deliver_at(utc(2026, 6, 2, 7), NY, NIGHT) == utc(2026, 6, 2, 12)

    def test_send_now_goes_at_once_even_at_night(self) -> None:
        night = utc(2026, 6, 2, 7)  # 03:00 EDT
        assert deliver_at(night, NY, NIGHT, send_now=True) == night

    def test_no_quiet_hours_or_an_empty_window(self) -> None:
        night = utc(2026, 6, 2, 7)
        assert deliver_at(night, NY, None) == night
        assert deliver_at(night, NY, quiet("03:00", "03:00")) == night

    def test_any_aware_input_comes_back_in_utc(self) -> None:
        eastern = dt.datetime(2026, 6, 2, 3, 0, tzinfo=zoneinfo.ZoneInfo(NY))
        assert deliver_at(eastern, NY, NIGHT) == utc(2026, 6, 2, 12)
        assert deliver_at(eastern, NY, NIGHT).tzinfo is UTC
        assert deliver_at(eastern, NY, None).tzinfo is UTC

    def test_naive_due_is_invalid(self) -> None:
        with pytest.raises(Invalid) as caught:
            deliver_at(dt.datetime(2026, 6, 2, 3), NY, NIGHT)
        assert caught.value.field == "due"


# --- deliver_at, property-based -------------------------------------------------------

ALL_ZONES = sorted(zoneinfo.available_timezones())
DST_ZONES = [
    NY,
    LONDON,
    LORD_HOWE,
    KOLKATA,
    CHATHAM,
    "America/Santiago",
    "America/Havana",
    "Asia/Gaza",
    "Africa/Casablanca",
    "America/St_Johns",
    "Australia/Adelaide",
    "Europe/Dublin",
    "Pacific/Apia",
    "America/Godthab",
]


def _quiet_at(instant: dt.datetime, zone: zoneinfo.ZoneInfo, hours: QuietHours) -> bool:
    """Independent of the module: compare local wall times as tuples."""
    local = instant.astimezone(zone)
    wall = (local.hour, local.minute, local.second, local.microsecond)
    start = (hours.start.hour, hours.start.minute, hours.start.second, 0)
    end = (hours.end.hour, hours.end.minute, hours.end.second, 0)
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def _brute_force(due: dt.datetime, zone: zoneinfo.ZoneInfo, hours: QuietHours) -> dt.datetime:
    """The earliest allowed instant at minute resolution: `due` itself, else the first
    whole UTC minute after it, scanning 48 hours."""
    if not _quiet_at(due, zone, hours):
        return due
    minute = due.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    for step in range(48 * 60):
        candidate = minute + dt.timedelta(minutes=step)
        if not _quiet_at(candidate, zone, hours):
            return candidate
    raise AssertionError("no allowed minute in 48 hours")


@functools.cache
def _offset_changes(zone_name: str, year: int) -> tuple[dt.datetime, ...]:
    """UTC instants (to the minute) where the zone's offset changes during `year`: daily
    probes, then a minute scan of the day that changed. Independent of the module."""
    zone = zoneinfo.ZoneInfo(zone_name)

    def offset(instant: dt.datetime) -> dt.timedelta | None:
        return instant.astimezone(zone).utcoffset()

    changes = []
    day = dt.datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        following = day + dt.timedelta(days=1)
        if offset(day) != offset(following):
            before = offset(day)
            for minute in range(1, 24 * 60 + 1):
                candidate = day + dt.timedelta(minutes=minute)
                if offset(candidate) != before:
                    changes.append(candidate)
                    break
        day = following
    return tuple(changes)


minutes_of_day = st.integers(0, 24 * 60 - 1)
# Quiet-hour boundaries anywhere in the day, or on the quarter hours of the small hours,
# where most clocks change.
boundary = st.one_of(
    minutes_of_day,
    st.integers(0, 4 * 4).map(lambda quarter: quarter * 15),
).map(lambda minute: dt.time(minute // 60, minute % 60))


@st.composite
def quiet_hours(draw: st.DrawFn) -> QuietHours:
    start = draw(boundary)
    end = draw(boundary.filter(lambda t: t != start))
    return QuietHours(start=start, end=end)


zones = st.one_of(st.sampled_from(DST_ZONES), st.sampled_from(ALL_ZONES))
any_instant = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2037, 12, 31),
    timezones=st.just(UTC),
)


@st.composite
def zone_and_due(draw: st.DrawFn) -> tuple[str, dt.datetime]:
    """A zone and a due instant, often within a day and a half of one of its offset
    changes (in 2026 or 2030), where DST mistakes live."""
    zone = draw(zones)
    changes = _offset_changes(zone, draw(st.sampled_from([2026, 2030])))
    near_a_change: bool = draw(st.booleans())
    if changes and near_a_change:
        change = draw(st.sampled_from(changes))
        shift = dt.timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))
        jitter = draw(st.sampled_from([0, 0, 0, 1, 59, 30_000_000 - 1]))
        return zone, change + shift + dt.timedelta(microseconds=jitter)
    return zone, draw(any_instant)


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestDeliverAtProperties:
    @PROPERTY
    @given(case=zone_and_due(), hours=quiet_hours())
    def test_earliest_allowed_instant(
        self, case: tuple[str, dt.datetime], hours: QuietHours
    ) -> None:
        zone_name, due = case
        zone = zoneinfo.ZoneInfo(zone_name)
        got = deliver_at(due, zone_name, hours)
        assert got.tzinfo is UTC
        # (a) never earlier than due
        assert got >= due
        # (b) never inside the quiet hours, by the local wall clock
        assert not _quiet_at(got, zone, hours)
        # (c) the earliest such instant at minute resolution
        assert got == _brute_force(due, zone, hours)
        # (d) idempotent
        assert deliver_at(got, zone_name, hours) == got

    @PROPERTY
    @given(case=zone_and_due(), hours=quiet_hours())
    def test_send_now_is_due_itself(self, case: tuple[str, dt.datetime], hours: QuietHours) -> None:
        zone_name, due = case
        assert deliver_at(due, zone_name, hours, send_now=True) == due

    @PROPERTY
    @given(
        zone=zones,
        day=st.dates(dt.date(2000, 1, 1), dt.date(2037, 12, 31)),
        at=minutes_of_day.map(lambda minute: dt.time(minute // 60, minute % 60)),
    )
    def test_due_instant_is_the_first_moment_the_wall_clock_shows_at_or_later(
        self, zone: str, day: dt.date, at: dt.time
    ) -> None:
        tz = zoneinfo.ZoneInfo(zone)
        naive = dt.datetime.combine(day, at)
        got = due_instant(day, zone, at)
        assert got.astimezone(tz).replace(tzinfo=None) >= naive
        assert (got - dt.timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None) < naive


# --- consent --------------------------------------------------------------------------

GIVEN = utc(2026, 1, 5, 9)
WITHDRAWN = utc(2026, 2, 1, 18, 30)


class TestMayMessage:
    def test_consent_is_required(self) -> None:
        assert may_message(Consent(), GIVEN) == (False, ConsentReason.NO_CONSENT)

    def test_consented_from_the_moment_given(self) -> None:
        consent = Consent(messages=True, given_at=GIVEN)
        assert may_message(consent, GIVEN) == (True, ConsentReason.CONSENTED)
        assert may_message(consent, GIVEN - dt.timedelta(seconds=1)) == (
            False,
            ConsentReason.NO_CONSENT,
        )

    def test_withdrawal_holds_from_that_instant_even_for_messages_queued_before(self) -> None:
        consent = Consent(messages=False, given_at=GIVEN, withdrawn_at=WITHDRAWN)
        assert may_message(consent, WITHDRAWN) == (False, ConsentReason.WITHDRAWN)
        assert may_message(consent, WITHDRAWN + dt.timedelta(days=30)) == (
            False,
            ConsentReason.WITHDRAWN,
        )
        # Before the withdrawal, consent held.
        assert may_message(consent, WITHDRAWN - dt.timedelta(microseconds=1)) == (
            True,
            ConsentReason.CONSENTED,
        )

    def test_withdrawal_wins_over_a_contradictory_record(self) -> None:
        consent = Consent(messages=True, given_at=GIVEN, withdrawn_at=WITHDRAWN)
        assert may_message(consent, WITHDRAWN) == (False, ConsentReason.WITHDRAWN)

    def test_consent_given_again_holds_from_then(self) -> None:
        again = WITHDRAWN + dt.timedelta(days=3)
        consent = Consent(messages=True, given_at=again, withdrawn_at=WITHDRAWN)
        assert may_message(consent, again - dt.timedelta(seconds=1))[0] is False
        assert may_message(consent, again) == (True, ConsentReason.CONSENTED)

    def test_instants_in_any_offset_compare_as_instants(self) -> None:
        consent = Consent(messages=False, given_at=GIVEN, withdrawn_at=WITHDRAWN)
        # 13:30 EST on 1 February is 18:30 UTC: the withdrawal instant itself.
        eastern = dt.datetime(2026, 2, 1, 13, 30, tzinfo=zoneinfo.ZoneInfo(NY))
        assert may_message(consent, eastern) == (False, ConsentReason.WITHDRAWN)

    def test_naive_send_time_is_invalid(self) -> None:
        with pytest.raises(Invalid):
            may_message(Consent(messages=True), dt.datetime(2026, 2, 1))

    @PROPERTY
    @given(
        toggles=st.lists(st.booleans(), min_size=1, max_size=6),
        gaps=st.lists(st.integers(1, 10**7), min_size=6, max_size=6),
        after=st.integers(0, 10**8),
    )
    def test_after_the_last_change_the_answer_is_the_current_choice(
        self, toggles: list[bool], gaps: list[int], after: int
    ) -> None:
        patient = Patient(
            id=PLAN,
            clinic_id=PLAN,
            given_name="A",
            family_name="B",
            birth_date=dt.date(1970, 1, 1),
        )
        now = GIVEN
        for choice, gap in zip(toggles, gaps, strict=False):
            now += dt.timedelta(seconds=gap)
            patient.set_consent(choice, now)
        allowed, reason = may_message(patient.consent, now + dt.timedelta(seconds=after))
        assert allowed is patient.consent.messages
        if patient.consent.withdrawn_at is not None and not patient.consent.messages:
            assert reason is ConsentReason.WITHDRAWN


# --- the daily cap --------------------------------------------------------------------


def item(
    key: str, at: dt.datetime, *, send_now: bool = False, kind: OutreachKind = OutreachKind.CHECK_IN
) -> DueItem:
    return DueItem(kind=kind, key=key, deliver_at=at, send_now=send_now)


class TestMergeDue:
    def test_what_falls_due_the_same_local_day_is_one_message(self) -> None:
        # New York, EDT: 14:00 UTC = 10:00 and 20:00 UTC = 16:00 on 2 June.
        check_in = item("c", utc(2026, 6, 2, 14))
        reminder = item("r", utc(2026, 6, 2, 20), kind=OutreachKind.GOAL_REVIEW_REMINDER)
        assert merge_due([reminder, check_in], NY) == [
            Batch(
                local_date=dt.date(2026, 6, 2),
                deliver_at=utc(2026, 6, 2, 14),
                items=(check_in, reminder),
            )
        ]

    def test_the_day_is_the_patients_local_day(self) -> None:
        # 03:00 UTC on 3 June is 23:00 EDT on 2 June: the same local day as 14:00 UTC
        # on 2 June. In Kolkata, 03:00 UTC is 08:30 IST on 3 June: a different day.
        early, late = item("a", utc(2026, 6, 2, 14)), item("b", utc(2026, 6, 3, 3))
        assert len(merge_due([early, late], NY)) == 1
        kolkata = merge_due([early, late], KOLKATA)
        assert [b.local_date for b in kolkata] == [dt.date(2026, 6, 2), dt.date(2026, 6, 3)]

    def test_send_now_is_its_own_message_outside_the_cap(self) -> None:
        regular = item("c", utc(2026, 6, 2, 14))
        now = item("w", utc(2026, 6, 2, 15), send_now=True)
        batches = merge_due([regular, now], NY)
        assert [(b.keys, b.send_now) for b in batches] == [(("c",), False), (("w",), True)]

    def test_a_higher_cap_keeps_the_first_apart_and_merges_the_rest(self) -> None:
        a, b, c = (item(k, utc(2026, 6, 2, h)) for k, h in (("a", 13), ("b", 15), ("c", 17)))
        batches = merge_due([c, b, a], NY, cap_per_day=2)
        assert [(x.keys, x.deliver_at) for x in batches] == [
            (("a",), utc(2026, 6, 2, 13)),
            (("b", "c"), utc(2026, 6, 2, 15)),
        ]
        # Under the cap, each goes on its own; items at the same instant share one.
        same = item("s", utc(2026, 6, 2, 13))
        assert [x.keys for x in merge_due([a, same, b], NY, cap_per_day=3)] == [
            ("a", "s"),
            ("b",),
        ]

    def test_the_cap_is_at_least_one(self) -> None:
        with pytest.raises(Invalid) as caught:
            merge_due([], NY, cap_per_day=0)
        assert caught.value.field == "cap_per_day"

    def test_naive_items_are_invalid(self) -> None:
        with pytest.raises(Invalid) as caught:
            merge_due([item("a", dt.datetime(2026, 6, 2, 10))], NY)
        assert caught.value.field == "items[0].deliver_at"

    @PROPERTY
    @given(
        zone=zones,
        hours=st.none() | quiet_hours(),
        dues=st.lists(
            st.tuples(
                st.datetimes(
                    min_value=dt.datetime(2026, 3, 5),
                    max_value=dt.datetime(2026, 3, 12),
                    timezones=st.just(UTC),
                ),
                st.sampled_from(list(OutreachKind)),
                st.sampled_from([False, False, False, True]),
            ),
            max_size=25,
        ),
        cap=st.integers(1, 3),
    )
    def test_never_over_the_cap_and_never_drops_an_item(
        self,
        zone: str,
        hours: QuietHours | None,
        dues: list[tuple[dt.datetime, OutreachKind, bool]],
        cap: int,
    ) -> None:
        tz = zoneinfo.ZoneInfo(zone)
        items = [
            DueItem(
                kind=kind,
                key=f"k{index}",
                send_now=send_now,
                deliver_at=deliver_at(due, zone, hours, send_now=send_now),
            )
            for index, (due, kind, send_now) in enumerate(dues)
        ]
        batches = merge_due(items, zone, cap_per_day=cap)

        # Never drops (or duplicates) an item.
        assert sorted(k for b in batches for k in b.keys) == sorted(i.key for i in items)
        # Never more than `cap` messages per local day, send_now aside.
        per_day: dict[dt.date, int] = {}
        for batch in batches:
            if not batch.send_now:
                per_day[batch.local_date] = per_day.get(batch.local_date, 0) + 1
        assert all(count <= cap for count in per_day.values())
        for batch in batches:
            assert batch.items
            assert all(i.send_now is batch.send_now for i in batch.items)
            if batch.send_now:
                assert len(batch.items) == 1
            # Goes on its items' local day, at the earliest of them, never later than any.
            assert {i.deliver_at.astimezone(tz).date() for i in batch.items} == {batch.local_date}
            assert batch.deliver_at == min(i.deliver_at for i in batch.items)
            assert local_date(batch.deliver_at, zone) == batch.local_date
            # Outside the quiet hours unless sent now.
            if hours is not None and not batch.send_now:
                assert not _quiet_at(batch.deliver_at, tz, hours)
        assert [b.deliver_at for b in batches] == sorted(b.deliver_at for b in batches)

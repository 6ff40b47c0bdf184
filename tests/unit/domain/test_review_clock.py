"""The 90-day prescriber review clock."""

from __future__ import annotations

import datetime as dt

from domain.opioids.review_clock import review_clock

START = dt.date(2026, 1, 10)


def test_never_reviewed_counts_from_the_start_of_therapy() -> None:
    clock = review_clock(START, None, dt.date(2026, 2, 1))
    assert clock.due_on == dt.date(2026, 4, 10)  # 90 days after 10 January
    assert not clock.overdue and not clock.task_due


def test_a_review_restarts_the_clock() -> None:
    clock = review_clock(START, dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    assert clock.counting_from == dt.date(2026, 3, 1)
    assert clock.due_on == dt.date(2026, 5, 30)


def test_the_task_opens_two_weeks_before_the_deadline_and_then_it_is_overdue() -> None:
    assert not review_clock(START, None, dt.date(2026, 3, 26)).task_due  # 15 days left
    assert review_clock(START, None, dt.date(2026, 3, 27)).task_due  # 14 days left
    late = review_clock(START, None, dt.date(2026, 4, 11))
    assert late.overdue and late.days_left == -1

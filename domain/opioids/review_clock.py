"""When the prescriber must next review benefits and harms of opioid therapy with the
patient.

CDC Clinical Practice Guideline for Prescribing Opioids for Pain — United States, 2022
(Dowell et al., MMWR Recomm Rep 2022;71(RR-3)), recommendation 7: clinicians should
evaluate benefits and risks with patients within 1 to 4 weeks of starting opioid therapy
for subacute or chronic pain or of dosage escalation, and should regularly reevaluate the
benefits and risks of continued opioid therapy with patients. The 2016 guideline
(recommendation 7) put "regularly" at every 3 months or more frequently, which is the
90-day clock clinics keep and that this module implements; it also asks that a pain
treatment plan be kept current.
"""

from __future__ import annotations

import datetime as dt

import msgspec

REVIEW_INTERVAL_DAYS = 90
"""At least every 3 months (CDC 2016 recommendation 7; CDC 2022 recommendation 7 keeps
'regularly reevaluate')."""

DEFAULT_LEAD_DAYS = 14
"""How long before the deadline a task opens, so the review can be booked in time."""


class ReviewClock(msgspec.Struct, kw_only=True, frozen=True):
    last_reviewed_on: dt.date | None
    """The prescriber's last recorded review; None when there has been none."""
    counting_from: dt.date
    """The last review, or when opioid therapy on this plan started if never reviewed."""
    due_on: dt.date
    days_left: int
    overdue: bool
    task_due: bool
    """True from `lead_days` before the deadline: time to open the review task."""


def review_clock(opioid_started_on: dt.date, last_reviewed_on: dt.date | None, today: dt.date,
                 *, lead_days: int = DEFAULT_LEAD_DAYS) -> ReviewClock:
    """The clock for a plan with an active opioid that started on `opioid_started_on`."""
    counting_from = max(filter(None, (opioid_started_on, last_reviewed_on)))
    due_on = counting_from + dt.timedelta(days=REVIEW_INTERVAL_DAYS)
    days_left = (due_on - today).days
    return ReviewClock(last_reviewed_on=last_reviewed_on, counting_from=counting_from,
                       due_on=due_on, days_left=days_left, overdue=days_left < 0,
                       task_due=days_left <= lead_days)

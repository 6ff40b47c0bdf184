"""The alliance per relationship: what happens after a check-in answer is stored, and the
trend the team reads (`domain.alliance_trend` holds the rules).

After an answer (`after_answer`, in the submit's own transaction): the relationship's
points are read back from the stored responses (this patient, this clinician), its latest
check-in is judged against its own baseline, and

* on a **drop**, a task of kind `alliance-drop` opens for that clinician (the one who owns
  the relationship), and a second, informational task of kind `general` opens for the
  plan's lead: "tells the plan's lead" is a task rather than a message because tasks are
  how Concord's team members hand each other things, they are audited and visible on the
  plan, and the lead can close it once they have spoken with the clinician. It is kind
  `general`, not `alliance-drop`, so that there is one alliance-drop task per drop and it
  is the relationship owner's. No lead, or the clinician *is* the lead: no second task.
* on **low goal agreement**, a task of kind `revisit-goals` opens for that clinician.

Each task's dedupe key names the check-in (`alliance-drop:{check_in}`,
`alliance-drop-lead:{check_in}`, `revisit-goals:{check_in}`), so one check-in opens each
at most once. The tasks are written as the system (audit `actor_type` system); reading
the responses back to compute the trend is the system's own work and is not audited as
a read -- what a person reads is (`history`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from domain import alliance_trend as rules
from domain.actor import Actor
from domain.alliance_trend import AllianceHistory, AlliancePoint, PegPoint, Relationship
from domain.care_plan import CarePlan
from domain.check_in import ALLIANCE_PULSE, PEG, CheckIn
from domain.errors import NotFound
from domain.task import Task
from domain.vocab import TaskKind, TaskPriority
from service.db.uow import UnitOfWork
from service.pages.instruments import WAI_SR

ALLIANCE_URLS = (ALLIANCE_PULSE, WAI_SR)


async def _answers(uow: UnitOfWork, clinic_id: uuid.UUID, patient_id: uuid.UUID,
                   clinician_id: uuid.UUID | None = None
                   ) -> tuple[list[AlliancePoint], list[PegPoint]]:
    """The patient's alliance points (about `clinician_id`, or every clinician) and every
    PEG they answered, oldest first; each point carries the PEG of its check-in."""
    rows = await uow.responses.scored(clinic_id, patient_id, (*ALLIANCE_URLS, PEG),
                                      with_clinician=ALLIANCE_URLS, clinician_id=clinician_id)
    pegs: list[PegPoint] = []
    peg_of_check_in: dict[uuid.UUID, float] = {}
    for row in rows:
        total = row.scores.get("total") if row.questionnaire == PEG else None
        if isinstance(total, int | float) and not isinstance(total, bool):
            pegs.append(PegPoint(authored_at=row.authored_at, total=float(total)))
            if row.check_in_id is not None:
                peg_of_check_in[row.check_in_id] = float(total)
    points: list[AlliancePoint] = []
    for row in rows:
        scored = None if row.questionnaire == PEG else rules.alliance_scores(row.scores)
        if scored is None or row.clinician_id is None:
            continue
        points.append(AlliancePoint(
            authored_at=row.authored_at, clinician_id=row.clinician_id,
            total=scored[0], goal_agreement=scored[1], check_in_id=row.check_in_id,
            peg_total=peg_of_check_in.get(row.check_in_id) if row.check_in_id else None))
    return points, pegs


async def _who(uow: UnitOfWork, plan: CarePlan, staff_id: uuid.UUID) -> tuple[str, str]:
    member = plan.member(staff_id)
    if member is not None:
        return member.name, member.discipline
    try:
        staff = await uow.staff.get(plan.clinic_id, staff_id)
    except NotFound:
        return "former team member", "unknown"
    return staff.name, staff.discipline


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


async def after_answer(uow: UnitOfWork, check_in: CheckIn, now: dt.datetime) -> list[Task]:
    """Judge the relationship this answered check-in is about and open what its signals
    call for. Returns the tasks opened (none when the check-in names no clinician, asked
    no alliance questionnaire, or nothing is flagged)."""
    clinician_id = check_in.clinician_id
    if clinician_id is None:
        return []
    points, _ = await _answers(uow, check_in.clinic_id, check_in.patient_id,
                                              clinician_id)
    if not points or points[-1].check_in_id != check_in.id:
        return []  # this check-in asked no alliance questionnaire (or is not the latest)
    plan = await uow.care_plans.get(check_in.clinic_id, check_in.care_plan_id)
    name, discipline = await _who(uow, plan, clinician_id)
    trend = rules.relationship(clinician_id, name, discipline, points)
    latest = trend.latest
    assert latest is not None
    opened: list[Task] = []

    def task(kind: TaskKind, owner: uuid.UUID, title: str, description: str,
             priority: TaskPriority = TaskPriority.ROUTINE) -> Task:
        return Task(id=uuid.uuid4(), clinic_id=plan.clinic_id, kind=kind, title=title,
                    description=description, priority=priority, patient_id=plan.patient_id,
                    care_plan_id=plan.id, owner_id=owner, created_at=now, updated_at=now)

    async def add(one: Task, key: str) -> None:
        if await uow.tasks.add(one, dedupe_key=f"{key}:{check_in.id}"):
            uow.audit(None, "create", "Task", one.id, plan.patient_id, clinic_id=plan.clinic_id)
            opened.append(one)

    when = latest.authored_at.date().isoformat()
    if trend.dropped and trend.baseline is not None:
        numbers = (f"The alliance check-in of {when} about {name} scored "
                   f"{_fmt(latest.total)} (1-5), {_fmt(trend.baseline - latest.total)} below "
                   f"this relationship's baseline of {_fmt(trend.baseline)} (mean of its first "
                   f"{rules.BASELINE_CHECK_INS} check-ins); the threshold is "
                   f"{_fmt(rules.DROP_THRESHOLD)}.")
        await add(task(
            TaskKind.ALLIANCE_DROP, clinician_id, "Alliance dropped: talk it through with the "
            "patient", numbers + " Ask the patient, openly and without defending, what has "
            "changed in the work together.", TaskPriority.URGENT), "alliance-drop")
        lead = plan.lead
        if lead is not None and lead.staff_id != clinician_id:
            await add(task(
                TaskKind.GENERAL, lead.staff_id,
                f"For information: alliance drop with {name} ({discipline})",
                numbers + f" {name} has an alliance-drop task to follow it up; this one tells "
                "the plan's lead."), "alliance-drop-lead")
    if trend.low_goal_agreement:
        await add(task(
            TaskKind.REVISIT_GOALS, clinician_id, "Revisit the goals with the patient",
            f"In the check-in of {when} about {name} the patient rated agreement on what they "
            f"most want to achieve {_fmt(latest.goal_agreement)} of 5 (at or below "
            f"{_fmt(rules.LOW_GOAL_AGREEMENT)}). Go over the plan's goals with the patient, in "
            "their own words."), "revisit-goals")
    return opened


async def history(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID,
                  today: dt.date) -> tuple[CarePlan, AllianceHistory]:
    """The patient's alliance with each clinician, their PEG and the plan's goal reviews;
    as visible as the plan, and audited as a read."""
    plan = await uow.care_plans.get(actor.clinic_id, plan_id)
    plan.require_visible(actor)
    uow.audit(actor, "read", "AllianceTrend", plan.id, plan.patient_id)
    points, pegs = await _answers(uow, plan.clinic_id, plan.patient_id)
    by_clinician: dict[uuid.UUID, list[AlliancePoint]] = defaultdict(list)
    for point in points:
        by_clinician[point.clinician_id].append(point)
    relationships: list[Relationship] = []
    for clinician_id, theirs in by_clinician.items():
        name, discipline = await _who(uow, plan, clinician_id)
        relationships.append(rules.relationship(clinician_id, name, discipline, theirs))
    relationships.sort(key=lambda one: (one.points[0].authored_at, one.name))
    reviews = sorted(
        (rules.ReviewMarker(date=review.reviewed_on, label=rules.review_label(review.t_score))
         for review in plan.reviews), key=lambda m: (m.date, m.label))
    return plan, AllianceHistory(as_of=today, relationships=relationships, peg=pegs,
                                 goal_reviews=reviews)

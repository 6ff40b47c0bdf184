"""Due check-ins become messages: each one, in one transaction, gets its single-use link,
its outbox row (keyed by what it is) and its status; only after the commit is a sender
woken. Consent is checked here and again when the message goes out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
import structlog
from redis.exceptions import RedisError

from domain import schedule
from domain.check_in import CheckIn, CheckInStatus, clinician_in_turn
from domain.patient import Patient, QuietHours
from domain.vocab import ContactSystem
from service import links, outreach
from service.db import tables as t
from service.db.uow import UnitOfWork, unit_of_work

log = structlog.get_logger("concord.worker.check_ins")
BATCH = 100


async def dispatch_check_ins(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """Queue every check-in whose delivery time has come; returns how many were queued."""
    now = now or dt.datetime.now(dt.UTC)
    queued: list[uuid.UUID] = []
    async with unit_of_work(ctx["engine"]) as uow:
        for check_in in await uow.check_ins.claim_due(now, BATCH):
            message_id = await _dispatch(ctx, uow, check_in, now)
            if message_id is not None:
                queued.append(message_id)
    await _wake_senders(ctx, queued)
    log.info("check_ins_dispatched", queued=len(queued))
    return len(queued)


async def _dispatch(ctx: dict[str, Any], uow: UnitOfWork, check_in: CheckIn,
                    now: dt.datetime) -> uuid.UUID | None:
    patient = await uow.patients.get(check_in.clinic_id, check_in.patient_id)
    allowed, reason = schedule.may_message(patient.consent, now)
    address = _email(patient)
    if not allowed or address is None:
        why = f"consent: {reason.value}" if not allowed else "no email address on file"
        await _move(uow, check_in, CheckInStatus.WITHHELD, why)
        return None
    cap = (await uow.clinic_settings.get(check_in.clinic_id)).messages_per_day
    if not check_in.send_now and await _messaged_today(uow, patient, now, cap):
        # At most the clinic's messages a patient a local day (one by default): this one
        # waits for tomorrow morning.
        tomorrow = schedule.local_date(now, patient.time_zone) + dt.timedelta(days=1)
        check_in.deliver_at = schedule.deliver_at(
            schedule.due_instant(tomorrow, patient.time_zone), patient.time_zone,
            patient.quiet_hours)
        await _move(uow, check_in, CheckInStatus.SCHEDULED, "one message a day: moved on")
        return None
    plan = await uow.care_plans.get(check_in.clinic_id, check_in.care_plan_id)
    clinician = next((m.name for m in plan.team if m.staff_id == check_in.clinician_id),
                     "your care team")
    token = await links.issue(uow, clinic_id=check_in.clinic_id, patient_id=patient.id,
                              purpose="check-in", care_plan_id=plan.id,
                              check_in_id=check_in.id, now=now,
                              secret=ctx["settings"].secret_key)
    url = f"{ctx['settings'].public_base_url}/p/{token}"
    template = await uow.templates.get(patient.clinic_id, "check-in", patient.language)
    message = outreach.check_in_email(patient, address, clinician, url,
                                      check_in.occurrence_key, plan.id, template)
    if not await uow.messages.enqueue(message):
        await _move(uow, check_in, CheckInStatus.QUEUED, "its message was already queued")
        return None
    check_in.message_id = message.id
    await _move(uow, check_in, CheckInStatus.QUEUED, None)
    uow.audit(None, "create", "Message", message.id, patient.id, clinic_id=patient.clinic_id)
    return message.id


async def _move(uow: UnitOfWork, check_in: CheckIn, status: CheckInStatus,
                reason: str | None) -> None:
    check_in.status, check_in.status_reason = status, reason
    check_in.version += 1
    await uow.check_ins.save(check_in)


def _email(patient: Patient) -> str | None:
    return next((c.value for c in patient.contact_points if c.system is ContactSystem.EMAIL),
                None)


async def _messaged_today(uow: UnitOfWork, patient: Patient, now: dt.datetime,
                          cap: int = schedule.DEFAULT_CAP_PER_DAY) -> bool:
    """Whether the patient has had `cap` messages (or more) this local day."""
    start = schedule.due_instant(schedule.local_date(now, patient.time_zone),
                                 patient.time_zone, dt.time(0, 0))
    if cap <= 1:
        return await uow.messages.any_for_patient_since(patient.id, start)
    sent = await uow.conn.scalar(sa.select(sa.func.count()).where(
        t.messages.c.patient_id == patient.id, t.messages.c.created_at >= start,
        t.messages.c.status != "dead"))
    return int(sent or 0) >= cap


async def _wake_senders(ctx: dict[str, Any], message_ids: list[uuid.UUID]) -> None:
    """After the commit; if Redis is away, the outbox relay finds the rows anyway."""
    redis = ctx.get("redis")
    if redis is None:
        return
    for message_id in message_ids:
        try:
            await redis.enqueue_job("send_message", str(message_id), _job_id=f"msg:{message_id}:0")
        except (RedisError, OSError) as exc:  # the relay cron will pick it up
            log.warning("wake_sender_failed", error=type(exc).__name__)


CADENCE = schedule.CheckInCadence()
"""The default cadence, every 14 days (the issue); each clinic's settings may change it
(`check_in_every_days`, `check_in_after_visit`)."""


def _active_plans() -> sa.Select[Any]:
    last_due = (sa.select(sa.func.max(t.check_ins.c.due_at))
                .where(t.check_ins.c.care_plan_id == t.care_plans.c.id).scalar_subquery())
    count = (sa.select(sa.func.count()).where(t.check_ins.c.care_plan_id == t.care_plans.c.id)
             .scalar_subquery())
    last_visit = (sa.select(t.visits.c.visited_at, t.visits.c.clinician_id)
                  .where(t.visits.c.care_plan_id == t.care_plans.c.id)
                  .order_by(t.visits.c.visited_at.desc(), t.visits.c.created_at.desc())
                  .limit(1).lateral("last_visit"))
    return (sa.select(t.care_plans.c.id, t.care_plans.c.clinic_id, t.care_plans.c.patient_id,
                      sa.func.coalesce(t.care_plans.c.period_start,
                                       sa.cast(t.care_plans.c.created_at, sa.Date))
                      .label("started_on"),
                      t.patients.c.time_zone, t.patients.c.quiet_hours,
                      last_due.label("last_due"), count.label("previous"),
                      last_visit.c.visited_at.label("visited_at"),
                      last_visit.c.clinician_id.label("visited_clinician"))
            .join(t.patients, t.patients.c.id == t.care_plans.c.patient_id)
            .outerjoin(last_visit, sa.true())
            .where(t.care_plans.c.status == "active",
                   t.patients.c.consent["messages"].as_boolean().is_(True)))


async def schedule_check_ins(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """Create the check-ins the clinic's cadence says are due today (local), once per plan
    and day: the occurrence key makes a second run, or a second worker, add nothing.

    With the clinic's `check_in_after_visit` on, the plan's most recent visit (if after
    its last check-in) brings the next one forward to the local day after the visit, and
    that check-in asks about the clinician the patient saw; otherwise the team takes
    turns."""
    now = now or dt.datetime.now(dt.UTC)
    created = 0
    async with unit_of_work(ctx["engine"]) as uow:
        cadences: dict[uuid.UUID, schedule.CheckInCadence] = {}
        for row in (await uow.conn.execute(_active_plans())).mappings().all():
            clinic_id = row["clinic_id"]
            if clinic_id not in cadences:
                cadences[clinic_id] = (await uow.clinic_settings.get(clinic_id)).cadence
            cadence = cadences[clinic_id]
            tz = row["time_zone"]
            today = schedule.local_date(now, tz)
            last = schedule.local_date(row["last_due"], tz) if row["last_due"] else None
            visited = schedule.local_date(row["visited_at"], tz) if row["visited_at"] else None
            due_day = schedule.next_check_in(last, row["started_on"], cadence, today,
                                             last_visit=visited)
            if due_day > today:
                continue
            after_visit = (cadence.after_visit and visited is not None
                           and (last is None or visited > last))
            plan = await uow.care_plans.get(row["clinic_id"], row["id"])
            quiet = msgspec.convert(row["quiet_hours"], QuietHours) if row["quiet_hours"] else None
            due = schedule.due_instant(due_day, tz)
            check_in = CheckIn(
                id=uuid.uuid4(), clinic_id=row["clinic_id"], care_plan_id=row["id"],
                patient_id=row["patient_id"], due_at=due,
                deliver_at=schedule.deliver_at(max(due, now), tz, quiet),
                occurrence_key=schedule.check_in_occurrence(row["id"], due_day),
                clinician_id=(row["visited_clinician"] if after_visit
                              else clinician_in_turn(plan, row["previous"])),
                created_at=now, updated_at=now)
            if await uow.check_ins.add(check_in):
                created += 1
                uow.audit(None, "create", "CheckIn", check_in.id, check_in.patient_id,
                          clinic_id=check_in.clinic_id)
    log.info("check_ins_scheduled", created=created)
    return created

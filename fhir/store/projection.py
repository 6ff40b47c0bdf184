"""Concord's own data, projected into the FHIR store when a unit of work flushes.

A write through /api/v1, a worker or /fhir changes the domain tables; here each FHIR
resource derived from what changed is mapped again and, if it differs from the last
projection, stored as its next version. So there is one version history and one change
feed, whichever door a change came through.

When a client wrote the resource through /fhir, what it wrote is kept (`original`) and
the projection at that moment beside it. A later projection replaces only the top-level
elements Concord changed since; everything else the client sent, extensions Concord
does not model included, is served as written (ADR 0006)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from domain.message import Message, MessageStatus
from fhir.mapping import care_plan as plan_mapping
from fhir.mapping import communication, medication, people
from fhir.mapping import questionnaire as questionnaire_mapping
from fhir.mapping import task as task_mapping
from fhir.mapping.questionnaire_response import questionnaire_response
from fhir.mapping.service_request import service_request
from fhir.store.repository import Stored
from service.db import tables as t

if TYPE_CHECKING:
    from domain.care_plan import CarePlan
    from service.db.uow import UnitOfWork

T = TypeVar("T")
_SERVED_BY_CONCORD = ("resourceType", "id")
# Of a client's resource Concord takes in, the elements Concord keeps current from then on.
_KEPT_UP_TO_DATE = {"CareTeam": ("participant",)}


def merge(
    original: dict[str, Any] | None, base: dict[str, Any] | None, new: dict[str, Any]
) -> dict[str, Any]:
    """Three-way merge by top-level element: `original` as a client wrote it, `base` the
    projection when it wrote it, `new` the projection now."""
    if original is None or base is None:
        return new
    merged: dict[str, Any] = {}
    for key in {**original, **new}:
        if key in _SERVED_BY_CONCORD:
            merged[key] = new[key]
        elif key == "meta":
            meta = {k: v for k, v in original.get("meta", {}).items()
                    if k not in ("versionId", "lastUpdated")}
            if meta:
                merged["meta"] = meta
        elif key in original and (key not in new and key not in base):
            merged[key] = original[key]  # an element Concord does not model
        elif key in original and base.get(key) == new.get(key):
            merged[key] = original[key]  # Concord has not changed it since
        elif key in new:
            merged[key] = new[key]
    return merged


def _bare(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


async def store_projection(
    uow: UnitOfWork, clinic_id: uuid.UUID, resource: dict[str, Any],
    patient_id: uuid.UUID | None, now: Any,
) -> Stored | None:
    """Store `resource` (a fresh projection) as the next version if it changed."""
    new = _bare(resource)
    previous = await uow.store.current(clinic_id, new["resourceType"], new["id"],
                                       for_update=True)
    written = uow.touched.originals.pop((new["resourceType"], new["id"]), None)
    original: dict[str, Any] | None
    base: dict[str, Any] | None
    if written is not None:
        original, base = written, new
    elif previous is not None and previous.projection is None and previous.original is None:
        # A client's resource Concord now keeps (the CareTeam a plan names): it stays as
        # the client wrote it but for what Concord keeps up to date from then on.
        original = _bare(previous.resource)
        kept_current = _KEPT_UP_TO_DATE.get(new["resourceType"], ())
        base = {k: v for k, v in new.items() if k not in kept_current}
    elif previous is not None and not previous.deleted and previous.projection == new:
        return None
    else:
        original = previous.original if previous is not None else None
        base = previous.projection if previous is not None else None
    return await uow.store.put(
        clinic_id, merge(original, base, new), now=now, patient_id=patient_id,
        original=original, projection=new, previous=previous,
    )


def plan_resources(plan: CarePlan, team_id: str | None = None) -> list[dict[str, Any]]:
    """Every FHIR resource derived from one plan; its team under `team_id` when the plan
    was written naming a CareTeam of the client's (that team then shows who is on it)."""
    care_plan, team = plan_mapping.care_plan(plan), people.care_team(plan)
    if team_id is not None:
        team["id"] = team_id
        care_plan["careTeam"] = [{"reference": f"CareTeam/{team_id}"}]
    resources = [care_plan, team]
    resources += [plan_mapping.goal(goal, plan) for goal in plan.goals]
    resources += [service_request(activity, plan) for activity in plan.activities]
    resources += [medication.medication_statement(s) for s in plan.medications]
    return resources


async def _team_id(uow: UnitOfWork, clinic_id: uuid.UUID, plan_id: uuid.UUID) -> str | None:
    """The CareTeam a client named when it wrote the plan, if any."""
    written = uow.touched.originals.get(("CarePlan", str(plan_id)))
    if written is None:
        stored = await uow.store.current(clinic_id, "CarePlan", str(plan_id))
        written = stored.original if stored is not None else None
    for ref in (written or {}).get("careTeam", []):
        value = str(ref.get("reference", ""))
        if value.startswith("CareTeam/") and value != f"CareTeam/{plan_id}":
            return value.removeprefix("CareTeam/")
    return None


async def _with_clients_participants(
    uow: UnitOfWork, clinic_id: uuid.UUID, team: dict[str, Any]
) -> dict[str, Any]:
    """The client's team as it wrote it, with Concord's members added and those who left
    Concord's team taken off: participants who are not clinic staff stay as written."""
    stored = await uow.store.current(clinic_id, "CareTeam", team["id"])
    if stored is None:
        return team
    written = stored.original or _bare(stored.resource)
    on_team = {p["member"]["reference"] for p in team["participant"]}
    kept: list[dict[str, Any]] = []
    for participant in written.get("participant", []):
        ref = str((participant.get("member") or {}).get("reference", ""))
        if ref.startswith("Practitioner/") and ref not in on_team:
            staff = await uow.store.current(clinic_id, "Practitioner", ref.split("/")[1])
            if staff is not None and staff.projection is not None:
                continue  # a clinician Concord's team no longer has
        kept.append(participant)
    listed = {str((p.get("member") or {}).get("reference", "")) for p in kept}
    kept += [p for p in team["participant"] if p["member"]["reference"] not in listed]
    return {**team, "participant": kept}


Projected = tuple[dict[str, Any] | None, uuid.UUID | None]


async def _each(
    uow: UnitOfWork, ids: set[uuid.UUID], table: sa.Table,
    load: Callable[[uuid.UUID, uuid.UUID], Awaitable[T]], to_fhir: Callable[[T], Projected],
    now: Any,
) -> None:
    """Project each row of `table` named in `ids`: its FHIR resource (None: not served)
    and the patient it is about."""
    for row_id in sorted(ids):
        clinic_id = await _clinic_of(uow, table, row_id)
        resource, patient_id = to_fhir(await load(clinic_id, row_id))
        if resource is not None:
            await store_projection(uow, clinic_id, resource, patient_id, now)


def _sent_message(message: Message) -> Projected:
    """A message is a Communication once it has been sent."""
    if message.status is not MessageStatus.SENT:
        return None, None
    return communication.communication(message), message.patient_id


async def _clinic_of(uow: UnitOfWork, table: sa.Table, row_id: uuid.UUID) -> uuid.UUID:
    clinic_id: uuid.UUID = (await uow.conn.execute(
        sa.select(table.c.clinic_id).where(table.c.id == row_id))).scalar_one()
    return clinic_id


async def project(uow: UnitOfWork) -> None:
    touched = uow.touched
    if not touched:
        return
    now = await uow.conn.scalar(sa.select(sa.func.clock_timestamp()))
    plans, patients, staff = touched.plans, touched.patients, touched.staff
    touched.plans, touched.patients, touched.staff = set(), set(), set()
    tasks, messages, responses = touched.tasks, touched.messages, touched.responses
    touched.tasks, touched.messages, touched.responses = set(), set(), {}
    questionnaire_clinics, touched.questionnaire_clinics = touched.questionnaire_clinics, set()
    for clinic_id in sorted(questionnaire_clinics):
        rows = await uow.questionnaires.all(clinic_id)
        for resource in questionnaire_mapping.questionnaires(rows):
            await store_projection(uow, clinic_id, resource, None, now)
    # Patients and staff first: a plan's resources reference them.
    await _each(uow, patients, t.patients, uow.patients.get,
                lambda p: (people.patient(p), p.id), now)
    await _each(uow, staff, t.staff, uow.staff.get,
                lambda m: (people.practitioner(m), None), now)
    for plan_id in sorted(plans):
        clinic_id = await _clinic_of(uow, t.care_plans, plan_id)
        plan = await uow.care_plans.get(clinic_id, plan_id)
        team_id = await _team_id(uow, clinic_id, plan_id)
        for resource in plan_resources(plan, team_id):
            if team_id is not None and resource["resourceType"] == "CareTeam":
                resource = await _with_clients_participants(uow, clinic_id, resource)
            await store_projection(uow, clinic_id, resource, plan.patient_id, now)
    await _each(uow, tasks, t.tasks, uow.tasks.get,
                lambda task: (task_mapping.task(task), task.patient_id), now)
    await _each(uow, messages, t.messages, uow.messages.get, _sent_message, now)
    for response in responses.values():
        await store_projection(uow, response.clinic_id,
                               questionnaire_response(response), response.patient_id, now)

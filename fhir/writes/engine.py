"""create, update and delete of FHIR resources: one path for /fhir, Bundles and bulk
import. Concord's own resources (Patient, CarePlan, Goal in a plan) are written through
the domain's use cases, so a FHIR write and an /api/v1 write are the same write; the rest
are kept as sent, validated, in the store."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from domain.actor import Actor
from domain.errors import DomainError, NotFound, StaleVersion
from fhir.api.scopes import require
from fhir.inbound.goal import goal_fields
from fhir.inbound.medication import Skipped, from_fhir
from fhir.store.projection import project
from fhir.store.repository import Stored
from fhir.writes import domain_care_plan, domain_goal, domain_medication, domain_patient
from fhir.writes.domain_medication import tagged_unstructured
from fhir.writes.errors import BadResource, Gone, NotSupported, PreconditionFailed
from fhir.writes.validation import check_references, validate
from service.db.uow import UnitOfWork

# Every type this server keeps, and what a client may do to each.
WRITABLE = frozenset({
    "Patient", "CarePlan", "Goal", "CareTeam", "MedicationStatement", "ServiceRequest",
    "Questionnaire", "QuestionnaireResponse", "Task", "Subscription",
})
# Clinical records are never deleted: a client marks them entered-in-error instead.
DELETABLE = frozenset({"Questionnaire", "Subscription", "Task", "CareTeam", "Goal",
                       "ServiceRequest"})
# Types created through the domain; others are created in the store.
DOMAIN_CREATED = frozenset({"Patient", "CarePlan"})


class Written(msgspec.Struct, kw_only=True):
    stored: Stored
    created: bool


def patient_of(resource: dict[str, Any]) -> uuid.UUID | None:
    """The Concord patient a resource is about, from subject / patient / for."""
    if resource.get("resourceType") == "Patient":
        try:
            return uuid.UUID(str(resource.get("id")))
        except ValueError:
            return None
    for key in ("subject", "patient", "for", "beneficiary"):
        ref = resource.get(key)
        if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("Patient/"):
            try:
                return uuid.UUID(str(ref["reference"]).removeprefix("Patient/"))
            except ValueError:
                return None
    return None


def _require_writable(resource_type: str) -> None:
    if resource_type not in WRITABLE:
        raise NotSupported(f"{resource_type} cannot be written on this server", "resourceType")


async def _subscription_hook(
    uow: UnitOfWork, actor: Actor, body: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    if body["resourceType"] != "Subscription":
        return body
    from fhir.subscriptions import registry

    result: dict[str, Any] = await registry.on_write(uow, actor.clinic_id, body, now)
    return result


async def create(
    uow: UnitOfWork, actor: Actor, body: Any, now: dt.datetime, base: str, *,
    resource_type: str, new_id: str | None = None,
) -> Written:
    """Create `body` as a new `resource_type` with a server-assigned id (or `new_id`,
    chosen by a transaction for its urn:uuid entries)."""
    _require_writable(resource_type)
    require(actor, resource_type, "c")
    resource = dict(validate(resource_type, body))
    resource["id"] = new_id or str(uuid.uuid4())
    await check_references(uow, actor.clinic_id, resource, base)
    if resource_type == "Goal":
        goal_fields(resource)  # what Concord will need when a plan takes the goal in
    if resource_type == "Patient":
        await domain_patient.create(uow, actor, resource, now)
    elif resource_type == "CarePlan":
        await domain_care_plan.create(uow, actor, resource, now, base)
    elif resource_type == "MedicationStatement":
        if not await domain_medication.create(uow, actor, resource, now, base):
            found = from_fhir(resource, base)
            reason = found.reason if isinstance(found, Skipped) else "not recorded"
            await _create_in_store(uow, actor, tagged_unstructured(resource, reason), now)
    else:
        await _create_in_store(uow, actor, await _subscription_hook(uow, actor, resource, now),
                               now)
    await project(uow)
    stored = await uow.store.current(actor.clinic_id, resource_type, resource["id"])
    assert stored is not None
    return Written(stored=stored, created=True)


async def _create_in_store(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any], now: dt.datetime
) -> None:
    await uow.store.put(actor.clinic_id, resource, now=now,
                        patient_id=await _patient_in_clinic(uow, actor, resource))
    uow.audit(actor, "create", resource["resourceType"], _uuid(resource["id"]),
              patient_of(resource))


async def _patient_in_clinic(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any]
) -> uuid.UUID | None:
    """The patient the resource is about, if this clinic has them; a clinician writes
    only about patients whose plan team they are on (as they read)."""
    patient_id = patient_of(resource)
    if patient_id is None:
        return None
    found = await uow.store.current(actor.clinic_id, "Patient", str(patient_id))
    if found is None or found.deleted:
        return None
    if not actor.manages_plans and not await uow.patients.seen_by(
            actor.clinic_id, patient_id, actor.staff_id):
        raise NotFound("Patient")
    return patient_id


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def check_version(current: Stored, expected: int | None) -> None:
    if expected is not None and expected != current.version_id:
        raise PreconditionFailed(
            f"{current.resource_type}/{current.id} is at version {current.version_id}, "
            f"not {expected}: read it again, then update", "meta.versionId")


async def update(
    uow: UnitOfWork, actor: Actor, resource_type: str, resource_id: str, body: Any,
    expected: int | None, now: dt.datetime, base: str,
) -> Written:
    """Replace the resource with `body`; `expected` is the If-Match version, if given."""
    _require_writable(resource_type)
    require(actor, resource_type, "u")
    resource = validate(resource_type, body)
    if resource.get("id") != resource_id:
        raise BadResource(f"the resource's id must be {resource_id!r}, as in the URL", "id")
    await check_references(uow, actor.clinic_id, resource, base)
    # Concord's own resources lock their owner (plan or patient) before the store row, as
    # /api/v1 writes do, so the two never wait on each other in opposite orders.
    owner = await _lock_owner(uow, actor, resource_type, resource_id)
    current = await uow.store.current(actor.clinic_id, resource_type, resource_id,
                                      for_update=True)
    if current is None:
        raise NotSupported(
            f"{resource_type}/{resource_id} does not exist; create it with POST "
            "(this server assigns ids)", "id")
    if current.deleted:
        raise Gone(f"{resource_type}/{resource_id} was deleted")
    check_version(current, expected)
    if current.projection is not None:
        await _update_in_domain(uow, actor, resource, owner, now, base)
    else:
        resource = await _subscription_hook(uow, actor, dict(resource), now)
        await uow.store.put(actor.clinic_id, resource, now=now, previous=current,
                            patient_id=await _patient_in_clinic(uow, actor, resource))
        uow.audit(actor, "update", resource_type, _uuid(resource_id), patient_of(resource))
    await project(uow)
    stored = await uow.store.current(actor.clinic_id, resource_type, resource_id)
    assert stored is not None
    return Written(stored=stored, created=False)


async def _lock_owner(
    uow: UnitOfWork, actor: Actor, resource_type: str, resource_id: str
) -> uuid.UUID | None:
    """Lock and return the domain row that owns a Concord resource (its plan, or the
    patient); None for resources kept only in the store."""
    ident = _uuid(resource_id)
    if ident is None:
        return None
    plan_id: uuid.UUID | None = None
    if resource_type in ("CarePlan", "CareTeam"):
        plan_id = ident
    elif resource_type == "Goal":
        plan_id = await uow.care_plans.plan_of_goal(actor.clinic_id, ident)
    elif resource_type == "MedicationStatement":
        plan_id = await uow.care_plans.plan_of_medication(actor.clinic_id, ident)
    elif resource_type == "ServiceRequest":
        plan_id = await uow.care_plans.plan_of_activity(actor.clinic_id, ident)
    elif resource_type == "Patient":
        await uow.patients.lock(actor.clinic_id, ident)
        return ident
    if plan_id is None:
        return None
    try:
        await uow.care_plans.get(actor.clinic_id, plan_id, for_update=True)
    except DomainError:
        return None
    return plan_id


async def _update_in_domain(
    uow: UnitOfWork, actor: Actor, resource: dict[str, Any], owner: uuid.UUID | None,
    now: dt.datetime, base: str,
) -> None:
    resource_type = resource["resourceType"]
    if owner is None:
        raise NotSupported(f"{resource_type}/{resource['id']} is Concord's and cannot be "
                           "changed here")
    try:
        if resource_type == "Patient":
            await domain_patient.update(uow, actor, resource, now)
        elif resource_type == "CarePlan":
            await domain_care_plan.update(uow, actor, resource, now, base)
        elif resource_type == "Goal":
            await domain_goal.update(uow, actor, owner, resource, now)
        elif resource_type == "MedicationStatement":
            await domain_medication.update(uow, actor, owner, resource, now, base)
        else:
            raise NotSupported(
                f"{resource_type} is kept from the care plan: change it through the "
                "CarePlan or /api/v1", resource_type)
    except StaleVersion as exc:  # the owner changed under us: the client must re-read
        raise PreconditionFailed(exc.detail, "meta.versionId") from None


async def delete(
    uow: UnitOfWork, actor: Actor, resource_type: str, resource_id: str, now: dt.datetime
) -> Stored | None:
    """Delete a resource kept in the store; None when there was nothing to delete."""
    require(actor, resource_type, "d")
    current = await uow.store.current(actor.clinic_id, resource_type, resource_id,
                                      for_update=True)
    if current is not None and current.projection is not None:
        raise NotSupported(
            f"{resource_type}/{resource_id} is part of a care plan: set its status to "
            "entered-in-error or cancelled instead of deleting it")
    if resource_type not in DELETABLE:
        raise NotSupported(f"{resource_type} is a clinical record: it is not deleted")
    if current is None or current.deleted:
        return None
    if resource_type == "Subscription":
        from fhir.subscriptions import registry

        await registry.on_delete(uow, actor.clinic_id, resource_id)
    uow.audit(actor, "delete", resource_type, _uuid(resource_id), current.patient_id)
    return await uow.store.delete(actor.clinic_id, current, now)

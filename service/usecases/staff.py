"""Staff, disciplines and their tokens: admins manage them."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import msgspec

from domain import patching
from domain.actor import Actor
from domain.care_plan import check_version
from domain.errors import Forbidden, IllegalTransition, Invalid
from domain.staff import Discipline, Staff
from domain.vocab import Role
from service.db.repos.staff import TokenRecord
from service.db.uow import UnitOfWork

TOKEN_PREFIX = "cc_"  # noqa: S105 - a prefix that makes leaked tokens findable by scanners


class StaffPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    email: str | msgspec.UnsetType | None = msgspec.UNSET
    discipline: str | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


async def known_disciplines(uow: UnitOfWork, clinic_id: uuid.UUID) -> set[str]:
    return {d.code for d in await uow.clinics.disciplines(clinic_id)}


async def create(uow: UnitOfWork, actor: Actor, staff: Staff) -> Staff:
    actor.require_admin()
    staff.validate(await known_disciplines(uow, actor.clinic_id))
    await uow.staff.add(staff)
    return staff


async def update(
    uow: UnitOfWork, actor: Actor, staff_id: uuid.UUID, patch: StaffPatch, expected: int
) -> Staff:
    staff = await uow.staff.get(actor.clinic_id, staff_id)  # another clinic's id: 404 first
    actor.require_admin()
    check_version("staff member", staff.version, expected)
    if await uow.staff.is_system(staff_id):
        raise Forbidden("this is a registered system's account: manage it under smart-clients")
    if staff_id == actor.staff_id and (
        patch.active is False or patch.role not in (msgspec.UNSET, Role.ADMIN)
    ):
        raise IllegalTransition("admins cannot demote or deactivate themselves", field="role")
    patching.apply(staff, patch)
    staff.validate(await known_disciplines(uow, actor.clinic_id))
    staff.version += 1
    await uow.staff.save(staff)
    return staff


async def add_discipline(uow: UnitOfWork, actor: Actor, discipline: Discipline) -> Discipline:
    actor.require_admin()
    discipline.validate()
    if not await uow.clinics.add_discipline(actor.clinic_id, discipline):
        raise IllegalTransition("the clinic already has this discipline", field="code")
    return discipline


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def issue_token(
    uow: UnitOfWork,
    clinic_id: uuid.UUID,
    staff: Staff,
    label: str | None,
    expires_at: dt.datetime | None,
) -> tuple[TokenRecord, str]:
    """A fresh bearer token for `staff`, with the staff member's role. The secret is shown
    once; only its hash is kept."""
    if not staff.active:
        raise Invalid("staff_id", "the staff member is not active")
    record = TokenRecord(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        staff_id=staff.id,
        role=staff.role,
        label=label,
        expires_at=expires_at,
    )
    secret = new_secret()
    await uow.tokens.add(record, secret)
    return record, secret


async def issue_token_as(
    uow: UnitOfWork,
    actor: Actor,
    staff_id: uuid.UUID,
    label: str | None,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[TokenRecord, str]:
    staff = await uow.staff.get(actor.clinic_id, staff_id)
    actor.require_admin()
    if await uow.staff.is_system(staff_id):
        # Its tokens come from /auth/token, limited by its scopes; a staff token would not be.
        raise Forbidden("a registered system gets its tokens at /auth/token")
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at", "must be in the future")
    return await issue_token(uow, actor.clinic_id, staff, label, expires_at)

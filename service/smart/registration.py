"""Registering a system with a clinic, and retiring it: admins do both (over the API, or
an operator with the CLI)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from domain.actor import Actor
from domain.errors import Invalid
from domain.patient import require_text
from domain.scopes import parse_system_scopes, render
from domain.staff import Discipline, Staff
from domain.vocab import NON_CLINICAL_DISCIPLINE, Role
from service.db.uow import UnitOfWork
from service.smart.clients import SmartClient, SmartClientRepository
from service.smart.keys import check_jwks, check_jwks_url

STAFF_NAME_PREFIX = "System: "
MAX_NAME = 200 - len(STAFF_NAME_PREFIX)


def new_client_id() -> str:
    """Not a secret (the private key is): random so that one clinic's ids say nothing of
    another's."""
    return "smart_" + secrets.token_urlsafe(18)


async def register(
    uow: UnitOfWork,
    actor: Actor,
    *,
    name: str,
    scopes: str,
    jwks: Any | None = None,
    jwks_url: str | None = None,
) -> SmartClient:
    actor.require_admin()
    return await register_for_clinic(
        uow, actor.clinic_id, name=name, scopes=scopes, jwks=jwks, jwks_url=jwks_url
    )


async def register_for_clinic(
    uow: UnitOfWork,
    clinic_id: uuid.UUID,
    *,
    name: str,
    scopes: str,
    jwks: Any | None = None,
    jwks_url: str | None = None,
) -> SmartClient:
    """The client, and the staff row it acts as: a coordinator (so that it may manage
    plans as the use cases define it) of the clinic's non-clinical discipline, named
    "System: <name>" in the audit trail."""
    require_text("name", name, max_length=MAX_NAME)
    allowed = parse_system_scopes(scopes)
    if (jwks is None) == (jwks_url is None):
        raise Invalid("jwks", "give the client's public keys: either jwks or jwks_url")
    checked_jwks = None if jwks is None else check_jwks(jwks)
    checked_url = None if jwks_url is None else check_jwks_url(jwks_url)
    # Every clinic is created with this discipline; one created otherwise gets it here.
    await uow.clinics.add_discipline(
        clinic_id, Discipline(code=NON_CLINICAL_DISCIPLINE, display="Administration")
    )
    staff = Staff(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        name=f"{STAFF_NAME_PREFIX}{name.strip()}",
        discipline=NON_CLINICAL_DISCIPLINE,
        role=Role.COORDINATOR,
    )
    await uow.staff.add(staff)
    client = SmartClient(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        client_id=new_client_id(),
        name=name.strip(),
        staff_id=staff.id,
        scopes=render(allowed),
        jwks=checked_jwks,
        jwks_url=checked_url,
    )
    await SmartClientRepository(uow.conn).add(client)
    return client


async def deactivate(uow: UnitOfWork, actor: Actor, client_row_id: uuid.UUID) -> SmartClient:
    """The client gets no more tokens, and the tokens it holds stop working now: its staff
    row is deactivated and its tokens revoked. The rows stay, so the audit trail still
    names it."""
    clients = SmartClientRepository(uow.conn)
    await clients.get(actor.clinic_id, client_row_id)  # another clinic's id: 404 first
    actor.require_admin()
    client = await clients.deactivate(actor.clinic_id, client_row_id)
    staff = await uow.staff.get(actor.clinic_id, client.staff_id)
    if staff.active:
        staff.active = False
        staff.version += 1
        await uow.staff.save(staff)
    await uow.tokens.revoke_all(actor.clinic_id, client.staff_id)
    return client

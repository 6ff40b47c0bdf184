from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import msgspec
import sqlalchemy as sa

from domain.errors import NotFound
from domain.staff import Staff
from domain.vocab import Role
from service.db import tables as t
from service.db.repos.base import Repository, compare_and_set, from_row, to_row


class StaffRepository(Repository):
    async def get(self, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff:
        row = (
            (
                await self.conn.execute(
                    sa.select(t.staff).where(
                        t.staff.c.id == staff_id, t.staff.c.clinic_id == clinic_id
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("staff member")
        return from_row(row, Staff)

    async def first_with_role(self, clinic_id: uuid.UUID, role: Role) -> Staff | None:
        row = (
            (
                await self.conn.execute(
                    sa.select(t.staff)
                    .where(
                        t.staff.c.clinic_id == clinic_id,
                        t.staff.c.role == role.value,
                        t.staff.c.active,
                    )
                    .order_by(t.staff.c.created_at, t.staff.c.id)
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else from_row(row, Staff)

    async def is_system(self, staff_id: uuid.UUID) -> bool:
        """Whether the row is the one a registered system (SMART client) acts as."""
        return bool(await self.conn.scalar(sa.select(sa.exists().where(
            t.smart_clients.c.staff_id == staff_id))))

    async def add(self, staff: Staff) -> None:
        self.touched.staff.add(staff.id)
        await self.conn.execute(t.staff.insert().values(**to_row(staff)))

    async def save(self, staff: Staff) -> None:
        self.touched.staff.add(staff.id)
        await compare_and_set(
            self.conn,
            t.staff,
            "staff member",
            staff.id,
            staff.version,
            to_row(staff, exclude=("id", "clinic_id", "version")),
        )


class TokenRecord(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    clinic_id: uuid.UUID
    staff_id: uuid.UUID
    role: Role
    label: str | None = None
    created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    scopes: str | None = None
    """Space-separated SMART scopes of a system's token; None for a staff token."""


class Authenticated(msgspec.Struct, kw_only=True, frozen=True):
    token_id: uuid.UUID
    clinic_id: uuid.UUID
    staff_id: uuid.UUID
    role: Role
    discipline: str
    scopes: str | None = None


def hash_token(secret: str) -> bytes:
    """Tokens are 256 random bits, so a fast cryptographic hash is the right tool (a slow
    password hash would add latency to every request and no security): SHA-256, from the
    standard library's OpenSSL binding."""
    return hashlib.sha256(secret.encode()).digest()


_auth_query = (
    sa.select(
        t.api_tokens.c.id.label("token_id"),
        t.api_tokens.c.clinic_id,
        t.api_tokens.c.staff_id,
        t.api_tokens.c.role,
        t.staff.c.discipline,
        t.api_tokens.c.scopes,
    )
    .join(t.staff, t.staff.c.id == t.api_tokens.c.staff_id)
    .where(
        t.api_tokens.c.token_hash == sa.bindparam("token_hash"),
        t.api_tokens.c.revoked_at.is_(None),
        sa.or_(t.api_tokens.c.expires_at.is_(None), t.api_tokens.c.expires_at > sa.func.now()),
        t.staff.c.active,
    )
)


class TokenRepository(Repository):
    async def authenticate(self, secret: str) -> Authenticated | None:
        row = (
            (await self.conn.execute(_auth_query, {"token_hash": hash_token(secret)}))
            .mappings()
            .first()
        )
        return None if row is None else from_row(row, Authenticated)

    async def add(self, record: TokenRecord, secret: str) -> None:
        await self.conn.execute(
            t.api_tokens.insert().values(
                **to_row(record, exclude=("created_at", "revoked_at")),
                token_hash=hash_token(secret),
            )
        )

    async def list_for(self, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> list[TokenRecord]:
        cols = [c for c in t.api_tokens.c if c.name != "token_hash"]
        rows = await self.conn.execute(
            sa.select(*cols)
            .where(t.api_tokens.c.clinic_id == clinic_id, t.api_tokens.c.staff_id == staff_id)
            .order_by(t.api_tokens.c.created_at)
        )
        return [from_row(r, TokenRecord) for r in rows.mappings()]

    async def revoke_all(self, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> None:
        await self.conn.execute(
            t.api_tokens.update()
            .where(
                t.api_tokens.c.clinic_id == clinic_id,
                t.api_tokens.c.staff_id == staff_id,
                t.api_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=sa.func.now())
        )

    async def revoke(
        self, clinic_id: uuid.UUID, staff_id: uuid.UUID, token_id: uuid.UUID
    ) -> TokenRecord:
        cols = [c for c in t.api_tokens.c if c.name != "token_hash"]
        row = (
            (
                await self.conn.execute(
                    t.api_tokens.update()
                    .where(
                        t.api_tokens.c.id == token_id,
                        t.api_tokens.c.clinic_id == clinic_id,
                        t.api_tokens.c.staff_id == staff_id,
                    )
                    .values(revoked_at=sa.func.coalesce(t.api_tokens.c.revoked_at, sa.func.now()))
                    .returning(*cols)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("token")
        return from_row(row, TokenRecord)

"""Signed, expiring patient links: what a message carries so that a patient can answer a
check-in, read their plan in plain words, or stop messages, without an account.

The token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`, unpadded, where
the payload is 25 bytes: a format version (1), the link's id (its jti: the `patient_links`
row) and its expiry in whole Unix seconds. About 80 URL-safe characters, short enough for
an SMS. `key` is derived from `Settings.secret_key` for this one use, so the same secret can
sign other things without a token of one kind passing for another.

* `verify` needs no database: a token that does not parse or whose MAC does not match is
  `tampered` (compared with `hmac.compare_digest`), one past its expiry is `expired`.
* `open_link` verifies, then reads the row: unknown, used (single-use links), or a check-in
  no longer open are refused too. A refusal changes nothing.
* `consume` marks a single-use link used in one guarded UPDATE (`used_at IS NULL AND
  expires_at > now`), inside the transaction that does the work: of two concurrent
  submits, one stores and the other is refused.

Single use: check-in and opt-out links are consumed by their POST (showing the form is not
using it). Plan links are **multi-use until they expire**: reading is not consuming, so a
patient can come back to their plan during the week; the page only reads.

Tokens are secrets: never log them. The access log logs the route template (`/p/{token}`),
never the path.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import hmac
import re
import struct
import uuid

import msgspec

from domain.check_in import CheckInStatus
from service.db.repos.links import LinkPurpose, PatientLink
from service.db.uow import UnitOfWork
from service.settings import Settings

DEFAULT_TTL = dt.timedelta(days=7)
TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 200
PATH_PREFIX = "/p/"

_PAYLOAD = struct.Struct(">B16sq")  # version, link id, expiry (Unix seconds)
_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,100})\.([A-Za-z0-9_-]{1,100})")  # fullmatch: no "\n"
_KEY_CONTEXT = b"concord patient link v1"


class LinkClaims(msgspec.Struct, frozen=True, kw_only=True):
    """What a verified token says: which link, and until when."""

    link_id: uuid.UUID
    expires_at: dt.datetime


class RefusalReason(enum.StrEnum):
    TAMPERED = "tampered"
    """The token does not parse or its signature does not match."""
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    """Signed by us, but no such link (e.g. another installation with the same key)."""
    USED = "used"
    """A single-use link already used, or its check-in already answered."""
    CLOSED = "closed"
    """The check-in was cancelled or has expired."""


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    reason: RefusalReason
    link_id: uuid.UUID | None = None
    """The link the token names, when its signature verified."""


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # One spelling per token: other encodings of the same bytes are not accepted.
    return raw if _b64encode(raw) == text else None


def _expiry(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return int(moment.timestamp())


def sign(claims: LinkClaims, secret: str) -> str:
    """The token for `claims`. The expiry is kept to the whole second."""
    if not secret:
        raise ValueError("a signing secret is required (CONCORD_SECRET_KEY)")
    payload = _PAYLOAD.pack(TOKEN_VERSION, claims.link_id.bytes, _expiry(claims.expires_at))
    mac = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return f"{_b64encode(payload)}.{_b64encode(mac)}"


def verify(token: str, secret: str, now: dt.datetime) -> LinkClaims | Refusal:
    """Check the token's signature, then its expiry. No database access."""
    tampered = Refusal(reason=RefusalReason.TAMPERED)
    if not secret or not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return tampered
    match = _TOKEN.fullmatch(token)
    if match is None:
        return tampered
    payload, mac = _b64decode(match.group(1)), _b64decode(match.group(2))
    if payload is None or mac is None or len(payload) != _PAYLOAD.size:
        return tampered
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        return tampered
    version, link_id, expires = _PAYLOAD.unpack(payload)
    if version != TOKEN_VERSION:
        return tampered
    claims = LinkClaims(
        link_id=uuid.UUID(bytes=link_id),
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
    )
    if now >= claims.expires_at:
        return Refusal(reason=RefusalReason.EXPIRED, link_id=claims.link_id)
    return claims


def url(base_url: str, token: str) -> str:
    """The link a message carries, e.g. `https://concord.example/p/<token>`."""
    return f"{base_url.rstrip('/')}{PATH_PREFIX}{token}"


async def issue(
    uow: UnitOfWork,
    *,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    purpose: LinkPurpose | str,
    care_plan_id: uuid.UUID | None,
    check_in_id: uuid.UUID | None = None,
    now: dt.datetime,
    ttl: dt.timedelta = DEFAULT_TTL,
    secret: str | None = None,
) -> str:
    """Write a `patient_links` row in the caller's transaction and return its token.

    A check-in link needs `check_in_id`, a plan link `care_plan_id`; the plan and check-in
    must be this patient's, in this clinic. `ttl` may be negative (tests issue expired
    links). Build the URL with `url(settings.public_base_url, token)`.

    `secret` is the signing key the API verifies with: pass `settings.secret_key` of the
    settings in hand. Without it, the environment's settings are read
    (`Settings.from_env()`: CONCORD_SECRET_KEY, else the key kept under CONCORD_HOME),
    which is what the API process itself uses in production.

    Raises:
        ValueError: an unknown purpose, a missing id, or ids that do not belong together.
    """
    kind = LinkPurpose(purpose)
    if kind is LinkPurpose.CHECK_IN and check_in_id is None:
        raise ValueError("a check-in link needs check_in_id")
    if kind is LinkPurpose.PLAN and care_plan_id is None:
        raise ValueError("a plan link needs care_plan_id")
    if not await uow.links.belongs(clinic_id, patient_id, care_plan_id, check_in_id):
        raise ValueError("the plan or check-in is not this patient's in this clinic")
    expires_at = dt.datetime.fromtimestamp(_expiry(now + ttl), dt.UTC)
    link = PatientLink(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        patient_id=patient_id,
        purpose=kind,
        expires_at=expires_at,
        care_plan_id=care_plan_id,
        check_in_id=check_in_id,
    )
    await uow.links.add(link)
    key = secret if secret is not None else Settings.from_env().secret_key
    return sign(LinkClaims(link_id=link.id, expires_at=expires_at), key)


async def open_link(
    uow: UnitOfWork, token: str, secret: str, now: dt.datetime
) -> PatientLink | Refusal:
    """The link this token names, if it may still be used now; else why not."""
    verified = verify(token, secret, now)
    if isinstance(verified, Refusal):
        return verified
    link = await uow.links.get(verified.link_id)
    if link is None:
        return Refusal(reason=RefusalReason.UNKNOWN)
    refused = Refusal(reason=RefusalReason.USED, link_id=link.id)
    if link.expires_at <= now:  # the row is the authority should the two ever differ
        return Refusal(reason=RefusalReason.EXPIRED, link_id=link.id)
    if link.purpose.single_use and link.used_at is not None:
        return refused
    if link.purpose is LinkPurpose.CHECK_IN and link.check_in_id is not None:
        check_in = await uow.check_ins.get(link.clinic_id, link.check_in_id)
        if check_in.status is CheckInStatus.ANSWERED:
            return refused
        if check_in.status not in (CheckInStatus.SCHEDULED, CheckInStatus.QUEUED):
            return Refusal(reason=RefusalReason.CLOSED, link_id=link.id)
    return link


async def consume(uow: UnitOfWork, link: PatientLink, now: dt.datetime) -> bool:
    """Mark a single-use link used, atomically; False if it was used (or expired) since it
    was opened. Plan links are never consumed (True: reading is allowed until expiry)."""
    if not link.purpose.single_use:
        return True
    return await uow.links.consume(link.id, now) is not None

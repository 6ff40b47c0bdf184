"""Signed webhooks: each message is POSTed as JSON to the configured URL (WEBHOOK_URL),
for a system of the clinic's (a patient portal, an SMS gateway of its own) to deliver.

The scheme, for receivers:

- `X-Concord-Timestamp`: the sending time in unix seconds.
- `X-Concord-Signature`: `v1=` and the lowercase hex HMAC-SHA256, keyed with the shared
  secret (WEBHOOK_SECRET, as UTF-8), of `f"{timestamp}.".encode() + raw_body`. The raw
  body is the exact bytes received: verify before parsing the JSON. A receiver may see
  several comma-separated `v1=` values (a secret being rotated): one matching is enough.
- `Idempotency-Key`: the message's idempotency key, the same on every attempt. Keys are
  unique within a clinic (`clinic_id` is in the body): deduplicate on both.
- Reject a timestamp more than 5 minutes from your clock (replays), compare signatures in
  constant time. `verify_signature` below does all of that.

Answers: 2xx means delivered; 4xx other than 401, 403, 408 and 429 means this message
will never be accepted (permanent); anything else, a redirect included, a timeout or a
refused connection, is retried with the outbox's backoff. 401 and 403 say the receiver
refuses our signature or our identity: a configuration fault (a secret that differs on
the two sides) that every message would meet, so it is retried like an outage rather
than killing each message it touches. The body carries the message text and
recipient (PHI): use https and keep the secret secret."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import msgspec

from domain.message import DeliveryFailed, Message
from service.settings import Settings

TIMEOUT = 10.0
TOLERANCE = 300.0
"""Seconds a receiver accepts between the timestamp and its own clock."""
SIGNATURE_VERSION = "v1"


class WebhookPayload(msgspec.Struct, kw_only=True):
    id: str
    clinic_id: str
    patient_id: str
    care_plan_id: str | None
    kind: str
    channel: str
    recipient: str
    subject: str | None
    body_text: str
    body_html: str | None
    idempotency_key: str
    attempt: int


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Concord-Signature` value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str,
                     now: float | None = None, tolerance: float = TOLERANCE) -> bool:
    """For receivers: is `header` a valid signature of `body` at `timestamp`, and is the
    timestamp within `tolerance` seconds of `now`?"""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = sign(secret, sent_at, body)
    candidates = [part.strip() for part in header.split(",")]
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)


def payload(message: Message) -> bytes:
    return msgspec.json.encode(WebhookPayload(
        id=str(message.id), clinic_id=str(message.clinic_id),
        patient_id=str(message.patient_id),
        care_plan_id=None if message.care_plan_id is None else str(message.care_plan_id),
        kind=message.kind, channel=message.channel.value, recipient=message.recipient,
        subject=message.subject, body_text=message.body_text, body_html=message.body_html,
        idempotency_key=message.idempotency_key, attempt=message.attempts,
    ))


def webhook_failure(status: int) -> DeliveryFailed:
    permanent = 400 <= status < 500 and status not in (401, 403, 408, 429)
    return DeliveryFailed(f"WebhookRejected {status}", permanent=permanent)


class WebhookChannel:
    def __init__(self, settings: Settings, *, timeout: float = TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout

    def request_parts(self, message: Message, now: float | None = None
                      ) -> tuple[bytes, dict[str, str]]:
        key = message.idempotency_key
        if not key.isascii() or not key.isprintable():
            raise DeliveryFailed("InvalidIdempotencyKey", permanent=True)
        body = payload(message)
        timestamp = int(time.time() if now is None else now)
        headers = {
            "Content-Type": "application/json",
            "X-Concord-Timestamp": str(timestamp),
            "X-Concord-Signature": sign(self.settings.webhook_secret or "", timestamp, body),
            "Idempotency-Key": key,
        }
        return body, headers

    async def send(self, message: Message) -> str:
        s = self.settings
        if not (s.webhook_url and s.webhook_secret):
            raise DeliveryFailed("WebhookNotConfigured", permanent=False)
        body, headers = self.request_parts(message)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.post(s.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(type(exc).__name__, permanent=False) from None
        if 200 <= response.status_code < 300:
            return message.idempotency_key
        raise webhook_failure(response.status_code)

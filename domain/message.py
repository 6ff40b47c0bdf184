"""Outbound messages (the outbox): their states and the moves between them, when to try
again, and which failures are worth retrying. Pure; the repository and the worker act on
it. Every message is a row before it is sent; PostgreSQL, not the job queue, says what
is still to be delivered (ADR "outbox delivery")."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import random
import re
import uuid
from collections.abc import Callable, Mapping

import msgspec

from domain import transitions
from domain.errors import IllegalTransition, Invalid
from domain.patient import require_text


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


S = MessageStatus
DEFAULT_MAX_ATTEMPTS = 8
LAST_ERROR_MAX = 200

# The lifecycle. The repository's guarded updates carry it out in SQL: a claim takes a
# due queued or failed row, or a sending row whose lease ran out, to sending; the outcome
# is written only by the claim with the current attempt number.
TRANSITIONS: Mapping[S, frozenset[S]] = {
    S.QUEUED: frozenset({S.SENDING}),
    # sending -> sending: a worker takes over a claim whose lease ran out.
    S.SENDING: frozenset({S.SENT, S.FAILED, S.DEAD}),
    S.FAILED: frozenset({S.SENDING, S.QUEUED}),
    S.DEAD: frozenset({S.QUEUED}),
    S.SENT: frozenset(),
}
REQUEUEABLE = frozenset({S.FAILED, S.DEAD})
"""What an admin or coordinator may send back to the queue."""

_KIND = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# Deliberately plain: one mailbox, no display name, no comments, no CR/LF. A recipient
# the server refuses is found out at RCPT time; this catches what must never reach it.
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


class Message(msgspec.Struct, kw_only=True):
    """One outbound message. `idempotency_key` says what the message is (e.g. a plan and
    the occurrence of its check-in), so that writing it twice keeps one row."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    kind: str
    channel: Channel
    recipient: str
    body_text: str
    idempotency_key: str
    care_plan_id: uuid.UUID | None = None
    subject: str | None = None
    body_html: str | None = None
    status: MessageStatus = MessageStatus.QUEUED
    attempts: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    next_attempt_at: dt.datetime | None = None
    """Not before this time (None when enqueued: now). Schedulers may set it, e.g. to the
    end of the patient's quiet hours."""
    lease_until: dt.datetime | None = None
    last_error: str | None = None
    provider_message_id: str | None = None
    sent_at: dt.datetime | None = None
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    def validate(self) -> None:
        """What a scheduler checks before it enqueues."""
        if not _KIND.fullmatch(self.kind):
            raise Invalid("kind", "lower-case letters, digits and hyphens, at most 40")
        require_text("idempotency_key", self.idempotency_key, max_length=200)
        require_text("body_text", self.body_text, max_length=100_000)
        if not 1 <= self.max_attempts <= 100:
            raise Invalid("max_attempts", "between 1 and 100")
        if self.channel is Channel.EMAIL:
            if not valid_email_address(self.recipient):
                raise Invalid("recipient", "not a single plain e-mail address")
            require_text("subject", self.subject or "", max_length=300)
            if any(c in (self.subject or "") for c in "\r\n"):
                raise Invalid("subject", "must be one line")

    def requeue(self) -> None:
        """Send a failed or dead message back to the queue, with a fresh budget of tries.
        Attempts keep counting up (never reset): a worker still holding an old claim is
        told apart by its attempt number."""
        if self.status not in REQUEUEABLE:
            raise IllegalTransition(
                f"only failed or dead messages can be requeued; this one is {self.status.value}",
                field="status",
            )
        transitions.check(TRANSITIONS, "message", self.status, S.QUEUED)
        self.status = S.QUEUED
        self.max_attempts = max(self.max_attempts, self.attempts + DEFAULT_MAX_ATTEMPTS)
        self.lease_until = None
        self.version += 1

    @property
    def email_message_id(self) -> str:
        return email_message_id(self.clinic_id, self.idempotency_key)


def email_message_id(clinic_id: uuid.UUID, idempotency_key: str) -> str:
    """The e-mail's Message-ID, the same on every attempt: a receiver (or our dev sink)
    that sees it twice knows the second is a retry of the first."""
    digest = hashlib.sha256(f"{clinic_id}:{idempotency_key}".encode()).hexdigest()[:32]
    return f"<{digest}@concord>"


def valid_email_address(value: str) -> bool:
    return len(value) <= 320 and _EMAIL.fullmatch(value) is not None


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """Exponential backoff with full jitter: after the n-th failed attempt, wait a uniformly
    random time between 0 and min(cap, base * 2^(n-1)). Full jitter spreads the retries
    of many messages that failed together (a mail server outage) instead of sending them
    back in one wave."""

    base: dt.timedelta = dt.timedelta(seconds=30)
    cap: dt.timedelta = dt.timedelta(hours=1)

    def window(self, attempts: int) -> dt.timedelta:
        exponent = min(max(attempts - 1, 0), 60)
        seconds = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**exponent)
        return dt.timedelta(seconds=seconds)

    def delay(self, attempts: int, draw: Callable[[], float] = random.random) -> dt.timedelta:
        return self.window(attempts) * draw()


class DeliveryFailed(Exception):
    """A channel could not deliver. `reason` names the error class and the provider's code
    only, never the address or the content (it is stored and logged)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:LAST_ERROR_MAX]
        self.permanent = permanent


def smtp_failure(error_class: str, code: int | None, *, about_the_message: bool) -> DeliveryFailed:
    """A 5xx answer to the recipient or the content is permanent: the same message will be
    refused again. Anything else is transient: 4xx, timeouts, a lost connection, and also
    a 5xx to our own greeting, login or sender, which is the server's or our configuration's
    fault, not this message's (it is retried, and dead only once its tries run out)."""
    permanent = about_the_message and code is not None and 500 <= code < 600
    reason = error_class if code is None else f"{error_class} {code}"
    return DeliveryFailed(reason, permanent=permanent)


def after_failure(attempts: int, max_attempts: int, permanent: bool) -> MessageStatus:
    """Where a message goes once attempt number `attempts` has failed."""
    if permanent or attempts >= max_attempts:
        return MessageStatus.DEAD
    return MessageStatus.FAILED


def dead_reason(failure: DeliveryFailed, attempts: int) -> str:
    if failure.permanent:
        return failure.reason
    return f"{failure.reason}; gave up after {attempts} attempts"[:LAST_ERROR_MAX]


def out_of_tries(attempts: int, max_attempts: int) -> bool:
    """A claim past the budget: the last try's worker vanished (its lease ran out) and
    nobody knows how it ended. Not sent again; dead, for a person to look at."""
    return attempts > max_attempts

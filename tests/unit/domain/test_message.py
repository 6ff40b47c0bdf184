"""Outbox rules: states, requeue, backoff with full jitter, permanent vs transient."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain.errors import IllegalTransition, Invalid
from domain.message import (
    DEFAULT_MAX_ATTEMPTS,
    Backoff,
    Channel,
    Message,
    MessageStatus,
    after_failure,
    dead_reason,
    email_message_id,
    out_of_tries,
    smtp_failure,
    valid_email_address,
)

CLINIC = uuid.UUID("6f1c1d0e-8f54-4a51-9d0b-2f3f1b7d9a10")


def message(**changes: object) -> Message:
    values: dict[str, object] = {
        "id": uuid.uuid4(), "clinic_id": CLINIC, "patient_id": uuid.uuid4(),
        "kind": "check-in", "channel": Channel.EMAIL, "recipient": "rosa@example.org",
        "subject": "How are we doing?", "body_text": "Two minutes, five questions.",
        "idempotency_key": "check-in:plan-1:2026-W47",
    }
    values.update(changes)
    return Message(**values)  # type: ignore[arg-type]


class TestValidate:
    def test_a_plain_email_message_is_valid(self) -> None:
        message().validate()

    @pytest.mark.parametrize(("field", "value"), [
        ("kind", "Check In"), ("recipient", "Rosa <rosa@example.org>"),
        ("recipient", "rosa@example.org\r\nBcc: x@example.org"), ("subject", None),
        ("subject", "Hello\r\nBcc: x@example.org"), ("idempotency_key", " "),
        ("max_attempts", 0),
    ])
    def test_what_may_not_be_enqueued(self, field: str, value: object) -> None:
        with pytest.raises(Invalid) as raised:
            message(**{field: value}).validate()
        assert raised.value.field == field


class TestRequeue:
    @pytest.mark.parametrize("status", [MessageStatus.DEAD, MessageStatus.FAILED])
    def test_dead_or_failed_goes_back_to_the_queue_with_fresh_tries(
        self, status: MessageStatus
    ) -> None:
        dead = message(status=status, attempts=8, max_attempts=8, version=10)
        dead.requeue()
        assert dead.status is MessageStatus.QUEUED
        assert dead.attempts == 8, "attempts never go back: they tell old claims apart"
        assert dead.max_attempts == 8 + DEFAULT_MAX_ATTEMPTS
        assert dead.version == 11

    def test_a_budget_is_never_shrunk(self) -> None:
        failed = message(status=MessageStatus.FAILED, attempts=1, max_attempts=20)
        failed.requeue()
        assert failed.max_attempts == 20

    @pytest.mark.parametrize("status", [MessageStatus.QUEUED, MessageStatus.SENDING,
                                        MessageStatus.SENT])
    def test_nothing_else_can_be_requeued(self, status: MessageStatus) -> None:
        with pytest.raises(IllegalTransition):
            message(status=status).requeue()


class TestBackoff:
    def test_the_window_doubles_from_the_base_up_to_the_cap(self) -> None:
        backoff = Backoff()
        windows = [backoff.window(n).total_seconds() for n in range(1, 10)]
        assert windows == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]

    def test_full_jitter_is_anywhere_from_zero_to_the_window(self) -> None:
        backoff = Backoff()
        assert backoff.delay(3, draw=lambda: 0.0) == dt.timedelta(0)
        assert backoff.delay(3, draw=lambda: 0.5) == dt.timedelta(seconds=60)
        delays = {backoff.delay(4) for _ in range(200)}
        assert all(dt.timedelta(0) <= d <= dt.timedelta(seconds=240) for d in delays)
        assert len(delays) > 100, "the delays are spread, not one value"

    def test_a_huge_attempt_count_is_still_the_cap(self) -> None:
        assert Backoff().window(10_000) == dt.timedelta(hours=1)


class TestSmtpFailure:
    @pytest.mark.parametrize(("code", "about", "permanent"), [
        (550, True, True), (554, True, True), (451, True, False), (421, True, False),
        (None, True, False), (535, False, False), (550, False, False), (None, False, False),
    ])
    def test_only_a_5xx_about_this_message_is_permanent(
        self, code: int | None, about: bool, permanent: bool
    ) -> None:
        failure = smtp_failure("SMTPDataError", code, about_the_message=about)
        assert failure.permanent is permanent

    def test_the_reason_is_the_error_class_and_code_only(self) -> None:
        assert smtp_failure("SMTPRecipientsRefused", 550, about_the_message=True).reason == (
            "SMTPRecipientsRefused 550")
        assert smtp_failure("SMTPConnectError", None, about_the_message=False).reason == (
            "SMTPConnectError")


class TestAfterFailure:
    def test_transient_failures_retry_until_the_tries_run_out(self) -> None:
        assert after_failure(1, 8, permanent=False) is MessageStatus.FAILED
        assert after_failure(7, 8, permanent=False) is MessageStatus.FAILED
        assert after_failure(8, 8, permanent=False) is MessageStatus.DEAD

    def test_a_permanent_failure_is_dead_at_once(self) -> None:
        assert after_failure(1, 8, permanent=True) is MessageStatus.DEAD

    def test_the_dead_reason_says_why(self) -> None:
        permanent = smtp_failure("SMTPRecipientsRefused", 550, about_the_message=True)
        transient = smtp_failure("SMTPDataError", 451, about_the_message=True)
        assert dead_reason(permanent, 1) == "SMTPRecipientsRefused 550"
        assert dead_reason(transient, 8) == "SMTPDataError 451; gave up after 8 attempts"

    def test_a_claim_past_the_budget_is_out_of_tries(self) -> None:
        assert not out_of_tries(8, 8)
        assert out_of_tries(9, 8)


class TestEmailMessageId:
    def test_the_same_message_has_the_same_id_on_every_attempt(self) -> None:
        first = email_message_id(CLINIC, "check-in:plan-1:2026-W47")
        assert first == email_message_id(CLINIC, "check-in:plan-1:2026-W47")
        assert first.startswith("<") and first.endswith("@concord>")
        assert len(first) == len("<@concord>") + 32

    def test_other_messages_and_other_clinics_differ(self) -> None:
        base = email_message_id(CLINIC, "k")
        assert base != email_message_id(CLINIC, "k2")
        assert base != email_message_id(uuid.uuid4(), "k")

    def test_the_key_itself_does_not_show(self) -> None:
        assert "plan-1" not in email_message_id(CLINIC, "check-in:plan-1:2026-W47")


class TestValidEmailAddress:
    @pytest.mark.parametrize("value", ["rosa@example.org", "r.d+concord@mail.example.co.uk"])
    def test_plain_addresses(self, value: str) -> None:
        assert valid_email_address(value)

    @pytest.mark.parametrize("value", ["", "rosa", "rosa@", "@example.org", "rosa@localhost",
                                       "a b@example.org", "rosa@example.org\n",
                                       "a@b@example.org", "Rosa <rosa@example.org>"])
    def test_what_is_not_one_plain_address(self, value: str) -> None:
        assert not valid_email_address(value)

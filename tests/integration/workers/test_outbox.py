"""The outbox against real servers: PostgreSQL, Redis, and an SMTP server (aiosmtpd) that
receives the mail. Other tests' messages may be due in the same database; every
assertion looks at this test's own messages (by id and Message-ID) only."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from arq import func
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job, JobStatus
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import Backoff, Channel, Message, MessageStatus, email_message_id
from service.db.uow import unit_of_work
from service.settings import Settings
from tests.factories import PATIENT, ClinicWorld
from workers.channels.email import EmailChannel
from workers.outbox import OutboxConfig, drain_outbox, relay_outbox, send_message

pytestmark = [
    pytest.mark.asyncio,
    # arq's Worker.close() calls redis' deprecated close(); not ours to fix.
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]
NO_WAIT = OutboxConfig(backoff=Backoff(base=dt.timedelta(0)))


# -- an SMTP server that keeps what it accepts and answers as it is told --------------------

class Sink:
    """aiosmtpd handler. `replies[recipient]` scripts the answers to DATA, one per try,
    then 250; `refused` recipients get 550 at RCPT."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.replies: dict[str, list[str]] = {}
        self.refused: set[str] = set()
        self.delay = 0.0
        self.port = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        scripted = self.replies.get(envelope.rcpt_tos[0], [])
        if scripted:
            return scripted.pop(0)
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 2.0.0 Ok: queued"

    def count(self, *messages: Message) -> Counter[str]:
        """How often each of `messages` arrived, by Message-ID."""
        ids = {m.email_message_id for m in messages}
        return Counter(str(r["Message-ID"]) for r in self.received
                       if str(r["Message-ID"]) in ids)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[Sink]:
    handler = Sink()
    handler.port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def ctx(engine: AsyncEngine, settings: Settings, sink: Sink) -> dict[str, Any]:
    """What a job finds in its ctx, with the SMTP settings pointed at the sink and no wait
    before a retry (the backoff itself is the domain's, tested there)."""
    return {"engine": engine, "outbox": NO_WAIT,
            "settings": msgspec.structs.replace(settings, smtp_port=sink.port)}


def new_message(world: ClinicWorld, patient_id: uuid.UUID, **changes: Any) -> Message:
    tag = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "id": uuid.uuid4(), "clinic_id": world.id, "patient_id": patient_id,
        "kind": "check-in", "channel": Channel.EMAIL, "recipient": f"p-{tag}@example.org",
        "subject": "How are we doing together?", "body_text": f"Five short questions {tag}",
        "idempotency_key": f"check-in:{tag}",
    }
    values.update(changes)
    return Message(**values)


async def enqueue(engine: AsyncEngine, *messages: Message) -> list[bool]:
    async with unit_of_work(engine) as uow:
        return [await uow.messages.enqueue(m) for m in messages]


async def stored(engine: AsyncEngine, message: Message) -> Message:
    async with unit_of_work(engine) as uow:
        return await uow.messages.get(message.clinic_id, message.id)


# -- enqueue -------------------------------------------------------------------------------

class TestEnqueue:
    async def test_the_same_key_twice_keeps_one_row(
        self, engine: AsyncEngine, world: ClinicWorld, patient_id: uuid.UUID
    ) -> None:
        first = new_message(world, patient_id)
        again = new_message(world, patient_id, idempotency_key=first.idempotency_key,
                            subject="A second scheduler run")
        assert await enqueue(engine, first) == [True]
        assert await enqueue(engine, again) == [False]
        async with unit_of_work(engine) as uow:
            page = await uow.messages.find(world.id, limit=10, cursor=None,
                                           patient_id=patient_id)
        assert [m.id for m in page.items] == [first.id]
        assert (await stored(engine, first)).subject == first.subject

    async def test_the_key_is_unique_per_clinic(
        self, client: Any, engine: AsyncEngine, world: ClinicWorld, other_world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        theirs = await client.post("/api/v1/patients", json=PATIENT,
                                   headers=other_world.auth("coordinator"))
        mine = new_message(world, patient_id)
        other = new_message(other_world, uuid.UUID(theirs.json()["id"]),
                            idempotency_key=mine.idempotency_key)
        assert await enqueue(engine, mine, other) == [True, True]

    async def test_a_rolled_back_business_transaction_leaves_no_message(
        self, engine: AsyncEngine, world: ClinicWorld, patient_id: uuid.UUID
    ) -> None:
        message = new_message(world, patient_id)
        with pytest.raises(RuntimeError):
            async with unit_of_work(engine) as uow:
                await uow.messages.enqueue(message)
                raise RuntimeError("the scheduler failed after writing")
        assert await enqueue(engine, message) == [True]


# -- send_message / drain_outbox ---------------------------------------------------------------

class TestSendMessage:
    async def test_delivers_once_with_a_deterministic_message_id(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id, body_html="<p>Five short questions</p>")
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "sent"
        assert await send_message(ctx, str(message.id)) == "skipped"
        assert await drain_outbox(ctx) >= 0
        assert sink.count(message) == {email_message_id(world.id, message.idempotency_key): 1}
        mail = next(r for r in sink.received if r["Message-ID"] == message.email_message_id)
        assert mail["To"] == message.recipient and mail["Subject"] == message.subject
        assert mail["Auto-Submitted"] == "auto-generated"
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None and message.body_text in plain.get_content()
        assert html is not None and "<p>Five short questions</p>" in html.get_content()
        row = await stored(engine, message)
        assert row.status is MessageStatus.SENT and row.attempts == 1
        assert row.provider_message_id == message.email_message_id
        assert row.sent_at is not None and row.lease_until is None and row.last_error is None

    async def test_the_claim_is_committed_before_the_server_is_called(
        self, ctx: dict[str, Any], engine: AsyncEngine, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        seen: list[Message] = []
        email_channel = EmailChannel(ctx["settings"])

        class Peeking:
            async def send(self, message: Message) -> str:
                seen.append(await stored(engine, message))  # another connection
                return await email_channel.send(message)

        ctx["channels"] = {"email": Peeking()}
        message = new_message(world, patient_id)
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "sent"
        (during,) = seen
        assert during.status is MessageStatus.SENDING and during.attempts == 1
        assert during.lease_until is not None and during.updated_at is not None
        assert during.lease_until > during.updated_at + dt.timedelta(seconds=60)

    async def test_a_451_is_retried_and_then_sent(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id)
        sink.replies[message.recipient] = ["451 4.3.0 Try again later"]
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "failed"
        failed = await stored(engine, message)
        assert failed.status is MessageStatus.FAILED and failed.attempts == 1
        assert failed.last_error == "SMTPDataError 451"
        assert sink.count(message) == {}
        assert await send_message(ctx, str(message.id)) == "sent"
        sent = await stored(engine, message)
        assert sent.status is MessageStatus.SENT and sent.attempts == 2
        assert sink.count(message) == {message.email_message_id: 1}

    async def test_a_failure_waits_out_its_backoff(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        ctx["outbox"] = OutboxConfig()  # base 30 s, full jitter
        message = new_message(world, patient_id)
        sink.replies[message.recipient] = ["421 4.7.0 Too busy"]
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "failed"
        failed = await stored(engine, message)
        assert failed.next_attempt_at is not None and failed.updated_at is not None
        wait = failed.next_attempt_at - failed.updated_at
        assert dt.timedelta(0) <= wait <= dt.timedelta(seconds=30)
        if wait > dt.timedelta(seconds=1):
            assert await send_message(ctx, str(message.id)) == "skipped"
        # Not left due for the tests after this one to trip over.
        async with unit_of_work(engine) as uow:
            await uow.messages.claim_one(message.id, dt.timedelta(hours=1))

    async def test_a_refused_recipient_is_dead_at_once(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        refused = new_message(world, patient_id)
        rejected = new_message(world, patient_id)
        sink.refused.add(refused.recipient)
        sink.replies[rejected.recipient] = ["554 5.6.0 Message content rejected"]
        await enqueue(engine, refused, rejected)
        assert await send_message(ctx, str(refused.id)) == "dead"
        assert await send_message(ctx, str(rejected.id)) == "dead"
        assert (await stored(engine, refused)).last_error == "SMTPRecipientsRefused 550"
        assert (await stored(engine, rejected)).last_error == "SMTPDataError 554"
        assert await send_message(ctx, str(refused.id)) == "skipped"
        assert sink.count(refused, rejected) == {}

    async def test_a_dead_message_is_listed_and_a_requeue_sends_it(
        self, client: Any, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink,
        world: ClinicWorld, patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id)
        sink.refused.add(message.recipient)
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "dead"
        auth = world.auth("coordinator")
        listed = await client.get("/api/v1/messages", params={"status": "dead"}, headers=auth)
        (row,) = [m for m in listed.json()["items"] if m["id"] == str(message.id)]
        assert (row["attempts"], row["last_error"]) == (1, "SMTPRecipientsRefused 550")
        read = await client.get(f"/api/v1/messages/{message.id}", headers=auth)
        sink.refused.clear()  # the patient's address was fixed at the provider
        requeued = await client.post(f"/api/v1/messages/{message.id}/requeue",
                                     headers={**auth, "If-Match": read.headers["etag"]})
        assert requeued.status_code == 200, requeued.text
        assert await send_message(ctx, str(message.id)) == "sent"
        sent = await stored(engine, message)
        assert (sent.status, sent.attempts) == (MessageStatus.SENT, 2)
        assert sink.count(message) == {message.email_message_id: 1}

    async def test_transient_failures_are_dead_once_the_tries_run_out(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id, max_attempts=2)
        sink.replies[message.recipient] = ["451 4.3.0 Later", "451 4.3.0 Later"]
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "failed"
        assert await send_message(ctx, str(message.id)) == "dead"
        dead = await stored(engine, message)
        assert dead.attempts == 2
        assert dead.last_error == "SMTPDataError 451; gave up after 2 attempts"

    async def test_an_unreachable_server_is_a_transient_failure(
        self, ctx: dict[str, Any], engine: AsyncEngine, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        ctx["settings"] = msgspec.structs.replace(ctx["settings"], smtp_port=_free_port())
        message = new_message(world, patient_id)
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "failed"
        failed = await stored(engine, message)
        assert failed.last_error is not None
        assert failed.last_error.startswith(("SMTPConnectError", "SMTPConnectTimeoutError"))
        assert message.recipient not in failed.last_error

    @pytest.mark.parametrize(("changes", "reason"), [
        ({"recipient": "not-an-address"}, "InvalidRecipient"),
        ({"channel": Channel.SMS, "recipient": "5555550100"}, "InvalidRecipient"),
    ])
    async def test_what_cannot_be_sent_at_all_is_dead(
        self, ctx: dict[str, Any], engine: AsyncEngine, world: ClinicWorld,
        patient_id: uuid.UUID, changes: dict[str, Any], reason: str,
    ) -> None:
        message = new_message(world, patient_id, **changes)
        await enqueue(engine, message)
        assert await send_message(ctx, str(message.id)) == "dead"
        assert (await stored(engine, message)).last_error == reason


class TestDrainOutbox:
    async def test_two_drains_at_once_never_send_a_message_twice(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        ctx["outbox"] = OutboxConfig(batch=3, backoff=NO_WAIT.backoff)
        sink.delay = 0.01  # long enough for the two to overlap
        messages = [new_message(world, patient_id) for _ in range(30)]
        await enqueue(engine, *messages)
        tried = await asyncio.gather(drain_outbox(ctx, 500), drain_outbox(dict(ctx), 500))
        assert sum(tried) >= len(messages) and all(tried), tried
        assert sink.count(*messages) == {m.email_message_id: 1 for m in messages}
        for message in messages:
            row = await stored(engine, message)
            assert (row.status, row.attempts) == (MessageStatus.SENT, 1)

    async def test_a_claim_whose_lease_ran_out_is_sent_by_the_next_worker(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id)
        await enqueue(engine, message)
        async with unit_of_work(engine) as uow:  # a worker that claims, then vanishes
            stale = await uow.messages.claim_one(message.id, dt.timedelta(0))
        assert stale is not None and stale.attempts == 1
        assert await drain_outbox(ctx) >= 1
        row = await stored(engine, message)
        assert (row.status, row.attempts) == (MessageStatus.SENT, 2)
        assert sink.count(message) == {message.email_message_id: 1}
        async with unit_of_work(engine) as uow:  # the vanished worker comes back
            assert not await uow.messages.mark_failed(message.id, 1, "SMTPDataError 451",
                                                      dt.timedelta(0))
            assert not await uow.messages.mark_dead(message.id, 1, "SMTPDataError 550")
            assert not await uow.messages.mark_sent(message.id, 1, "<other@concord>")
        after = await stored(engine, message)
        assert (after.status, after.version, after.provider_message_id) == (
            MessageStatus.SENT, row.version, message.email_message_id)

    async def test_a_claim_still_leased_is_left_alone(
        self, ctx: dict[str, Any], engine: AsyncEngine, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id)
        await enqueue(engine, message)
        async with unit_of_work(engine) as uow:
            assert await uow.messages.claim_one(message.id, dt.timedelta(minutes=5))
        await drain_outbox(ctx)
        assert await send_message(ctx, str(message.id)) == "skipped"
        row = await stored(engine, message)
        assert (row.status, row.attempts) == (MessageStatus.SENDING, 1)
        async with unit_of_work(engine) as uow:  # the holder finishes
            assert await uow.messages.mark_dead(message.id, 1, "test")


# -- relay_outbox ---------------------------------------------------------------------------------

@pytest_asyncio.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    assert settings.redis_url
    pool = await create_pool(
        RedisSettings.from_dsn(settings.redis_url),
        default_queue_name=f"test-outbox:{uuid.uuid4().hex}",
        job_serializer=msgspec.msgpack.encode, job_deserializer=msgspec.msgpack.decode,
    )
    yield pool
    await pool.aclose()


class TestRelayOutbox:
    async def test_one_job_per_due_message_then_a_worker_sends_them(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, redis: ArqRedis,
        world: ClinicWorld, patient_id: uuid.UUID,
    ) -> None:
        messages = [new_message(world, patient_id) for _ in range(3)]
        await enqueue(engine, *messages)
        ctx["redis"] = redis
        assert await relay_outbox(ctx) >= len(messages)
        assert await relay_outbox(ctx) == 0, "a second tick (or worker) adds no job"
        for message in messages:
            job = Job(f"msg:{message.id}:0", redis, _queue_name=redis.default_queue_name,
                      _deserializer=msgspec.msgpack.decode)
            assert await job.status() is JobStatus.queued
        worker = Worker(
            functions=[func(send_message, timeout=60)], redis_pool=redis, ctx=ctx, burst=True,
            queue_name=redis.default_queue_name, handle_signals=False, poll_delay=0.05,
            job_serializer=msgspec.msgpack.encode, job_deserializer=msgspec.msgpack.decode,
        )
        try:
            await worker.run_check()
        finally:
            await worker.close()
        assert sink.count(*messages) == {m.email_message_id: 1 for m in messages}

    async def test_without_redis_the_relay_sends_itself(
        self, ctx: dict[str, Any], engine: AsyncEngine, sink: Sink, world: ClinicWorld,
        patient_id: uuid.UUID,
    ) -> None:
        message = new_message(world, patient_id)
        await enqueue(engine, message)
        ctx["redis"] = ArqRedis(host="127.0.0.1", port=_free_port(), socket_connect_timeout=1)
        try:
            assert await relay_outbox(ctx) >= 1
        finally:
            await ctx["redis"].aclose()
        assert sink.count(message) == {message.email_message_id: 1}

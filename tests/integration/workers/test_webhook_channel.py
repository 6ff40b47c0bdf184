"""The webhook channel against a real HTTP receiver that verifies each request the way a
receiver should: the signature over the raw body with the shared secret, a timestamp
within 5 minutes, the Idempotency-Key, then the JSON."""

from __future__ import annotations

import hmac
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest

from domain.message import Channel, Message
from service.settings import Settings
from tests.integration.workers.local_http import Answer, failure_of, outbound, serve
from workers.channels import make_channel
from workers.channels.webhook import (
    TOLERANCE,
    WebhookChannel,
    sign,
    verify_signature,
    webhook_failure,
)

SECRET = "whsec-test-3f9a"


@dataclass
class Receiver:
    """Accepts what verifies (204), refuses what does not (401); `script` replaces the
    answer to the next verified requests, one each."""

    port: int = 0
    accepted: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    now: float | None = None

    def handle(self, headers: Any, raw: bytes) -> int:
        ok = verify_signature(SECRET, headers.get("X-Concord-Timestamp", ""), raw,
                              headers.get("X-Concord-Signature", ""), now=self.now)
        if not ok:
            self.refused.append(headers.get("X-Concord-Timestamp", ""))
            return 401
        if headers.get("Content-Type") != "application/json" or not headers.get(
                "Idempotency-Key"):
            self.refused.append("headers")
            return 400
        if self.script:
            return self.script.pop(0)
        self.accepted.append((dict(headers.items()), json.loads(raw)))
        return 204


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    fake = Receiver()

    def answer(method: str, path: str, headers: Any, raw: bytes) -> Answer:
        status = fake.handle(headers, raw)
        moved = {"Location": "/elsewhere"} if status in (301, 302, 307, 308) else {}
        return status, b"", moved

    with serve(answer) as port:
        fake.port = port
        yield fake


def hook_settings(base: Settings, receiver: Receiver, **changes: Any) -> Settings:
    values: dict[str, Any] = {"webhook_url": f"http://127.0.0.1:{receiver.port}/concord",
                              "webhook_secret": SECRET}
    values.update(changes)
    return msgspec.structs.replace(base, **values)


def hook(**changes: Any) -> Message:
    return outbound(Channel.WEBHOOK, "portal:patient-17", "Hi Rosa, https://concord.example/c/abc",
                    subject="How is our work together going?", **changes)


pytestmark = pytest.mark.asyncio


class TestDelivery:
    async def test_a_signed_message_is_accepted_with_its_idempotency_key(
        self, settings: Settings, receiver: Receiver
    ) -> None:
        message = hook()
        channel = make_channel(Channel.WEBHOOK, hook_settings(settings, receiver))
        assert await channel.send(message) == message.idempotency_key
        assert receiver.refused == []
        [(headers, body)] = receiver.accepted
        assert headers["Idempotency-Key"] == message.idempotency_key
        assert abs(int(headers["X-Concord-Timestamp"]) - time.time()) < 5
        assert headers["X-Concord-Signature"].startswith("v1=")
        assert body["id"] == str(message.id)
        assert body["clinic_id"] == str(message.clinic_id)
        assert body["body_text"] == message.body_text
        assert body["idempotency_key"] == message.idempotency_key

    async def test_every_attempt_carries_the_same_key(
        self, settings: Settings, receiver: Receiver
    ) -> None:
        message = hook()
        channel = WebhookChannel(hook_settings(settings, receiver))
        receiver.script = [503]
        assert (await failure_of(channel, message)).permanent is False
        message.attempts += 1
        await channel.send(message)
        assert receiver.accepted[0][0]["Idempotency-Key"] == message.idempotency_key

    async def test_a_receiver_with_another_secret_refuses_it_and_we_retry(
        self, settings: Settings, receiver: Receiver
    ) -> None:
        channel = WebhookChannel(hook_settings(settings, receiver, webhook_secret="other"))
        failure = await failure_of(channel, hook())
        assert (failure.reason, failure.permanent) == ("WebhookRejected 401", False)
        assert len(receiver.refused) == 1

    @pytest.mark.parametrize(("status", "permanent"), [
        (400, True), (404, True), (410, True), (422, True),
        (403, False), (408, False), (429, False), (500, False), (502, False), (503, False),
        (307, False),
    ])
    async def test_answers_are_classified(
        self, settings: Settings, receiver: Receiver, status: int, permanent: bool
    ) -> None:
        receiver.script = [status]
        failure = await failure_of(WebhookChannel(hook_settings(settings, receiver)), hook())
        assert (failure.reason, failure.permanent) == (f"WebhookRejected {status}", permanent)

    async def test_unreachable_or_unconfigured_is_transient(
        self, settings: Settings, receiver: Receiver
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        down = WebhookChannel(hook_settings(settings, receiver,
                                            webhook_url=f"http://127.0.0.1:{closed}/"))
        assert (await failure_of(down, hook())).reason == "ConnectError"
        unset = WebhookChannel(hook_settings(settings, receiver, webhook_secret=None))
        failure = await failure_of(unset, hook())
        assert (failure.reason, failure.permanent) == ("WebhookNotConfigured", False)

    async def test_a_key_that_cannot_be_a_header_is_permanent(
        self, settings: Settings, receiver: Receiver
    ) -> None:
        channel = WebhookChannel(hook_settings(settings, receiver))
        for key in ("check-in:\r\nX-Evil: 1", "check-in:ñ"):
            failure = await failure_of(channel, hook(idempotency_key=key))
            assert (failure.reason, failure.permanent) == ("InvalidIdempotencyKey", True)
        assert receiver.accepted == [] and receiver.refused == []


class TestTheReceiverSide:
    async def test_a_tampered_body_or_a_stale_timestamp_is_refused(
        self, settings: Settings, receiver: Receiver
    ) -> None:
        channel = WebhookChannel(hook_settings(settings, receiver))
        body, headers = channel.request_parts(hook())
        url = f"http://127.0.0.1:{receiver.port}/concord"
        tampered = body.replace(b"Hi Rosa", b"Hi Ross")
        stale = int(time.time()) - int(TOLERANCE) - 60
        stale_headers = {**headers, "X-Concord-Timestamp": str(stale),
                         "X-Concord-Signature": sign(SECRET, stale, body)}
        async with httpx.AsyncClient() as client:
            assert (await client.post(url, content=tampered, headers=headers)).status_code == 401
            assert (await client.post(url, content=body, headers=stale_headers)
                    ).status_code == 401
            assert (await client.post(url, content=body, headers=headers)).status_code == 204
        assert len(receiver.refused) == 2 and len(receiver.accepted) == 1

    async def test_verify_signature(self) -> None:
        body = b'{"id":"1"}'
        now = 1_750_000_000.0
        good = sign(SECRET, int(now), body)
        assert good == "v1=" + hmac.new(
            SECRET.encode(), f"{int(now)}.".encode() + body, "sha256").hexdigest()
        assert verify_signature(SECRET, str(int(now)), body, good, now=now)
        assert verify_signature(SECRET, str(int(now)), body, good, now=now + 299)
        assert not verify_signature(SECRET, str(int(now)), body, good, now=now + 301)
        assert not verify_signature(SECRET, str(int(now)), body, good, now=now - 301)
        assert not verify_signature(SECRET, str(int(now)), body + b" ", good, now=now)
        assert not verify_signature("other", str(int(now)), body, good, now=now)
        assert not verify_signature(SECRET, "soon", body, good, now=now)
        assert not verify_signature(SECRET, str(int(now)), body, good.upper(), now=now)
        assert verify_signature(SECRET, str(int(now)), body, f"v1=00ff, {good}", now=now)
        assert not webhook_failure(429).permanent and webhook_failure(422).permanent

"""The SMS channel against a real HTTP server that checks every request as Twilio's
Messages resource documents it and answers with Twilio-shaped JSON: 201 with the new
Message (its `sid`), or a 4xx/5xx exception `{"code", "message", "more_info", "status"}`.

Sources: https://www.twilio.com/docs/messaging/api/message-resource (request, response),
https://www.twilio.com/docs/api/errors/400 (exception body), errors 20003, 20429, 21211,
21610, 21617 under https://www.twilio.com/docs/api/errors/."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import Backoff, Channel, Message, MessageStatus
from service.db.uow import unit_of_work
from service.settings import Settings
from tests.factories import ClinicWorld
from tests.integration.workers.local_http import Answer, failure_of, outbound, serve
from workers.channels import make_channel
from workers.channels.sms import SmsChannel, twilio_failure
from workers.outbox import OutboxConfig, send_message

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
FROM = "+15005550006"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


# -- a Twilio-compatible server ---------------------------------------------------------------

def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}"}


@dataclass
class FakeTwilio:
    """Answers by the `To` number: `script[to]` is a list of (status, JSON body) replies,
    one per request, then success. `violations` lists every way a request departed from
    Twilio's documented contract (each also answered as Twilio would)."""

    port: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    script: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    delay: float = 0.0

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        time.sleep(self.delay)
        expected_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        if method != "POST":
            self.violations.append(f"method {method}")
            return 405, {"status": 405, "message": "Method not allowed"}
        if path != expected_path:
            self.violations.append(f"path {path}")
            return _error(404, 20404, "The requested resource was not found")
        auth = headers.get("Authorization", "")
        wanted = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if auth != wanted:
            return _error(401, 20003, "Authenticate")
        if headers.get("Content-Type") != "application/x-www-form-urlencoded":
            self.violations.append(f"content-type {headers.get('Content-Type')}")
            return _error(400, 20001, "Invalid content type")
        fields = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=True)
        if any(len(values) != 1 for values in fields.values()):
            self.violations.append("repeated field")
        form = {name: values[0] for name, values in fields.items()}
        self.requests.append(form)
        if "To" not in form:
            self.violations.append("no To")
            return _error(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(form["To"]):
            self.violations.append("To not E.164")
            return _error(400, 21211, "The 'To' number is not a valid phone number.")
        if ("From" in form) == ("MessagingServiceSid" in form):
            self.violations.append("From/MessagingServiceSid")
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            self.violations.append("no Body")
            return _error(400, 21602, "Message body is required.")
        if len(form["Body"]) > 1600:
            self.violations.append("Body over 1600")
            return _error(400, 21617, "The concatenated message body exceeds the 1600 "
                                      "character limit.")
        scripted = self.script.get(form["To"], [])
        if scripted:
            return scripted.pop(0)
        sid = "SM" + uuid.uuid4().hex
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        return 201, {
            "sid": sid, "account_sid": ACCOUNT_SID, "api_version": "2010-04-01",
            "to": form["To"], "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"], "status": "queued" if "From" in form else "accepted",
            "num_segments": "1", "num_media": "0", "direction": "outbound-api",
            "date_created": now, "date_updated": now, "date_sent": None,
            "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"},
        }


def _serve(fake: FakeTwilio) -> Iterator[FakeTwilio]:
    def answer(method: str, path: str, headers: Any, raw: bytes) -> Answer:
        status, body = fake.handle(method, path, headers, raw)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return status, data, {"Content-Type": "application/json"}

    with serve(answer) as port:
        fake.port = port
        yield fake


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    yield from _serve(FakeTwilio())


def sms_settings(base: Settings, fake: FakeTwilio, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "sms_account_sid": ACCOUNT_SID, "sms_auth_token": AUTH_TOKEN, "sms_from": FROM,
        "sms_base_url": f"http://127.0.0.1:{fake.port}",
    }
    values.update(changes)
    return msgspec.structs.replace(base, **values)


def sms(to: str = "+15555550123", body: str = "Your care team would like to hear from you: "
        "https://concord.example/c/abc", **changes: Any) -> Message:
    return outbound(Channel.SMS, to, body, **changes)


pytestmark = pytest.mark.asyncio


# -- requests as Twilio documents them ---------------------------------------------------------

class TestRequest:
    async def test_a_text_is_posted_as_twilio_documents_and_its_sid_kept(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        message = sms()
        sid = await SmsChannel(sms_settings(settings, twilio)).send(message)
        assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
        assert twilio.violations == []
        assert twilio.requests == [{"To": "+15555550123", "From": FROM,
                                    "Body": message.body_text}]

    async def test_a_messaging_service_sid_is_sent_instead_of_from(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        channel = SmsChannel(sms_settings(settings, twilio, sms_from=SERVICE_SID))
        assert (await channel.send(sms())).startswith("SM")
        assert twilio.violations == []
        assert twilio.requests[0]["MessagingServiceSid"] == SERVICE_SID
        assert "From" not in twilio.requests[0]

    async def test_make_channel_builds_it_from_the_settings(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        channel = make_channel(Channel.SMS, sms_settings(settings, twilio))
        assert (await channel.send(sms(body="Hola, Rosa: https://concord.example/c/x ñ"))
                ).startswith("SM")
        assert twilio.requests[0]["Body"].endswith("ñ")

    async def test_what_can_never_be_sent_is_refused_before_any_request(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        channel = SmsChannel(sms_settings(settings, twilio))
        for message, reason in [(sms(to="5555550123"), "InvalidRecipient"),
                                (sms(to="+1 555 555 0123"), "InvalidRecipient"),
                                (sms(to="rosa@example.org"), "InvalidRecipient"),
                                (sms(body="x" * 1601), "BodyTooLong"),
                                (sms(body="   "), "EmptyBody")]:
            failure = await failure_of(channel, message)
            assert (failure.reason, failure.permanent) == (reason, True)
        assert twilio.requests == []
        assert (await channel.send(sms(body="x" * 1600))).startswith("SM")

    async def test_without_credentials_it_waits_for_configuration(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        channel = SmsChannel(sms_settings(settings, twilio, sms_auth_token=None))
        failure = await failure_of(channel, sms())
        assert (failure.reason, failure.permanent) == ("SmsNotConfigured", False)
        assert twilio.requests == []


# -- answers ------------------------------------------------------------------------------

class TestAnswers:
    @pytest.mark.parametrize(("reply", "reason", "permanent"), [
        (_error(400, 21211, "The 'To' number +15005550001 is not a valid phone number."),
         "SmsRejected 400 21211", True),
        (_error(400, 21610, "Attempt to send to unsubscribed recipient"),
         "SmsRejected 400 21610", True),
        (_error(400, 21614, "'To' number is not a valid mobile number"),
         "SmsRejected 400 21614", True),
        (_error(400, 21606, "The 'From' phone number provided is not a valid message-capable "
                            "Twilio phone number for this destination/account"),
         "SmsRejected 400 21606", False),
        (_error(400, 21408, "Permission to send an SMS has not been enabled for the region"),
         "SmsRejected 400 21408", False),
        (_error(400, 12345, "Some other validation error"), "SmsRejected 400 12345", True),
        (_error(429, 20429, "Too Many Requests"), "SmsRejected 429 20429", False),
        (_error(500, 20500, "Internal Server Error"), "SmsRejected 500 20500", False),
        ((503, b"<html>Service Unavailable</html>"), "SmsRejected 503", False),
        ((201, {"status": "queued"}), "SmsNoSid 201", True),
    ])
    async def test_each_answer_is_classified(
        self, settings: Settings, twilio: FakeTwilio, reply: tuple[int, Any], reason: str,
        permanent: bool
    ) -> None:
        to = "+15005550001"
        twilio.script[to] = [reply]
        failure = await failure_of(SmsChannel(sms_settings(settings, twilio)), sms(to=to))
        assert (failure.reason, failure.permanent) == (reason, permanent)
        assert to not in failure.reason
        assert twilio.violations == []

    async def test_wrong_credentials_are_configuration_not_the_message(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        channel = SmsChannel(sms_settings(settings, twilio, sms_auth_token="wrong"))
        failure = await failure_of(channel, sms())
        assert (failure.reason, failure.permanent) == ("SmsRejected 401 20003", False)

    async def test_a_wrong_account_is_configuration_too(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        channel = SmsChannel(sms_settings(settings, twilio,
                                          sms_account_sid="AC" + "f" * 32))
        failure = await failure_of(channel, sms())
        assert (failure.reason, failure.permanent) == ("SmsRejected 404 20404", False)

    async def test_a_server_that_is_down_or_slow_is_transient(
        self, settings: Settings, twilio: FakeTwilio
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        down = SmsChannel(sms_settings(settings, twilio,
                                       sms_base_url=f"http://127.0.0.1:{closed}"))
        failure = await failure_of(down, sms())
        assert (failure.reason, failure.permanent) == ("ConnectError", False)
        twilio.delay = 1.0
        failure = await failure_of(SmsChannel(sms_settings(settings, twilio), timeout=0.2),
                                   sms())
        assert (failure.reason, failure.permanent) == ("ReadTimeout", False)

    async def test_classification_table(self) -> None:
        assert twilio_failure(400, None).permanent
        assert twilio_failure(413, None).permanent
        for status in (401, 403, 404, 408, 429, 500, 502, 503, 504):
            assert not twilio_failure(status, None).permanent, status


# -- through the outbox ---------------------------------------------------------------------

class TestThroughTheOutbox:
    async def test_sent_and_stopped_texts_are_recorded(
        self, engine: AsyncEngine, settings: Settings, twilio: FakeTwilio, world: ClinicWorld,
        patient_id: uuid.UUID
    ) -> None:
        ctx = {"engine": engine, "settings": sms_settings(settings, twilio),
               "outbox": OutboxConfig(backoff=Backoff(base=dt.timedelta(0)))}
        sent = sms(clinic_id=world.id, patient_id=patient_id)
        stopped = sms(to="+15005550009", clinic_id=world.id, patient_id=patient_id)
        twilio.script[stopped.recipient] = [
            _error(400, 21610, "Attempt to send to unsubscribed recipient")]
        async with unit_of_work(engine) as uow:
            assert await uow.messages.enqueue(sent)
            assert await uow.messages.enqueue(stopped)
        assert await send_message(ctx, str(sent.id)) == "sent"
        assert await send_message(ctx, str(stopped.id)) == "dead"
        async with unit_of_work(engine) as uow:
            done = await uow.messages.get(world.id, sent.id)
            dead = await uow.messages.get(world.id, stopped.id)
        assert done.status is MessageStatus.SENT
        assert done.provider_message_id and done.provider_message_id.startswith("SM")
        assert dead.status is MessageStatus.DEAD
        assert dead.last_error == "SmsRejected 400 21610"
        assert twilio.violations == []

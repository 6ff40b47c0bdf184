"""SMS through a Twilio-compatible REST API (httpx), one request per message.

The request, as Twilio documents its Messages resource
(https://www.twilio.com/docs/messaging/api/message-resource):
`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth with the
Account SID and Auth Token, a form-encoded body with `To` (E.164), `Body` (at most 1,600
characters) and either `From` or `MessagingServiceSid`. Success is `201 Created` with the
new Message resource as JSON; its `sid` (`SM...`) is the provider id we keep.

Failures are answered with a JSON exception `{"code", "message", "more_info", "status"}`
(https://www.twilio.com/docs/api/errors/400). How we classify them (`twilio_failure`):

- 400 with a code about this message's recipient or content (21211 invalid `To`, 21610
  recipient replied STOP, 21612/21614 not reachable by SMS, 21617/21658 body too long,
  21602 no body): permanent, the same request is refused again.
- 400 with a code about our own configuration (21606/21212/21603 the sender, 21608 trial
  account, 21408 region not enabled): transient. Every message would fail alike; it is
  not this message's fault, so it is retried (and dead only when its tries run out)
  while someone fixes the account. Logged as `sms_configuration_error`.
- any other 400 and other 4xx: permanent (Twilio: retry "only after you confirm the
  request is valid").
- 401/403 (error 20003, wrong credentials) and 404 (wrong Account SID or base URL):
  configuration, transient, logged as `sms_configuration_error`.
- 408, 429 (error 20429: "never processed and is always safe to retry") and 5xx,
  timeouts and connection errors: transient; the outbox's backoff spaces the retries.

Twilio's `message` text can contain the phone number; it is never stored or logged,
only the HTTP status and Twilio's numeric code.

No idempotency key: Twilio's Messages API offers none (there is no idempotency header
for creating a Message), so a worker that dies after Twilio accepted the request but
before `sent` is committed leaves the message to be sent again once its lease expires.
The outbox narrows that window (the claim's lease, `sent` retried for seconds after the
provider accepted) but cannot close it: a patient may, rarely, get a text twice."""

from __future__ import annotations

import re

import httpx
import msgspec
import structlog

from domain.message import DeliveryFailed, Message
from service.settings import Settings

log = structlog.get_logger("concord.worker.sms")

TIMEOUT = 10.0
"""Seconds for connecting, and for each read and write: well inside the claim's lease."""
MAX_BODY = 1600
"""Twilio's limit for `Body` on the Messages resource (errors 21617, 21658)."""
API_VERSION = "2010-04-01"

_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

PERMANENT_CODES = frozenset({
    21211,  # invalid 'To' phone number
    21610,  # attempt to send to unsubscribed recipient (replied STOP)
    21612,  # 'To' not currently reachable via SMS
    21614,  # 'To' is not a mobile number
    21617,  # concatenated body exceeds 1600 characters
    21658,  # parameter exceeded character limit
    21602,  # message body is required
})
"""Codes about this message's recipient or content: trying again cannot help."""
CONFIGURATION_CODES = frozenset({
    21212,  # invalid 'From' number
    21603,  # 'From' phone number is required
    21606,  # 'From' number is not SMS-capable
    21608,  # trial account: 'To' number unverified
    21408,  # permission to send to this region not enabled
})
"""Codes about our account or sender: every message fails alike until it is fixed."""


class TwilioError(msgspec.Struct):
    code: int | None = None
    status: int | None = None


class TwilioMessage(msgspec.Struct):
    sid: str = ""


def valid_e164(number: str) -> bool:
    return _E164.fullmatch(number) is not None


def twilio_failure(status: int, code: int | None) -> DeliveryFailed:
    """What an unsuccessful answer means for the message (see the module's notes)."""
    reason = f"SmsRejected {status}" if code is None else f"SmsRejected {status} {code}"
    if status == 400 and code in CONFIGURATION_CODES:
        return DeliveryFailed(reason, permanent=False)
    if status in (401, 403, 404, 408, 429) or status >= 500:
        return DeliveryFailed(reason, permanent=False)
    return DeliveryFailed(reason, permanent=400 <= status < 500)


def configuration_problem(status: int, code: int | None) -> bool:
    return status in (401, 403, 404) or (status == 400 and code in CONFIGURATION_CODES)


class SmsChannel:
    def __init__(self, settings: Settings, *, timeout: float = TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout

    def form(self, message: Message) -> dict[str, str]:
        """The form fields of the request; a message that can never be sent fails here."""
        if not valid_e164(message.recipient):
            raise DeliveryFailed("InvalidRecipient", permanent=True)
        body = message.body_text
        if not body.strip():
            raise DeliveryFailed("EmptyBody", permanent=True)
        if len(body) > MAX_BODY:
            raise DeliveryFailed("BodyTooLong", permanent=True)
        sender = self.settings.sms_from or ""
        fields = {"To": message.recipient, "Body": body}
        if _MESSAGING_SERVICE_SID.fullmatch(sender):
            fields["MessagingServiceSid"] = sender
        else:
            fields["From"] = sender
        return fields

    def url(self) -> str:
        base = self.settings.sms_base_url.rstrip("/")
        return f"{base}/{API_VERSION}/Accounts/{self.settings.sms_account_sid}/Messages.json"

    async def send(self, message: Message) -> str:
        s = self.settings
        fields = self.form(message)  # what can never be sent is dead even while unconfigured
        if not (s.sms_account_sid and s.sms_auth_token and s.sms_from):
            log.warning("sms_configuration_error", error="SmsNotConfigured")
            raise DeliveryFailed("SmsNotConfigured", permanent=False)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.post(
                    self.url(), data=fields, auth=(s.sms_account_sid, s.sms_auth_token),
                    headers={"Accept": "application/json"},
                )
        except httpx.HTTPError as exc:  # timeouts, refused or dropped connections
            raise DeliveryFailed(type(exc).__name__, permanent=False) from None
        if 200 <= response.status_code < 300:
            return self._sid(response)
        code = _error_code(response.content)
        if configuration_problem(response.status_code, code):
            log.warning("sms_configuration_error", status=response.status_code, code=code)
        raise twilio_failure(response.status_code, code)

    @staticmethod
    def _sid(response: httpx.Response) -> str:
        try:
            sid = msgspec.json.decode(response.content, type=TwilioMessage).sid
        except msgspec.DecodeError:
            sid = ""
        if not sid:
            # Accepted, but we cannot tell which message it made: sending again could
            # text the patient twice, so a person looks at it instead.
            raise DeliveryFailed(f"SmsNoSid {response.status_code}", permanent=True)
        return sid


def _error_code(content: bytes) -> int | None:
    try:
        return msgspec.json.decode(content, type=TwilioError).code
    except msgspec.DecodeError:
        return None

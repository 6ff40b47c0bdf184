"""Subscriptions as clients write them: the FHIR write path hands every Subscription it
creates or updates to `on_write` (and every delete to `on_delete`) inside its own
transaction. `on_write` checks the resource, keeps what delivery needs in
fhir_subscriptions, and returns the resource to store: status set by the server (R4:
requested -> active), the secret taken out, delivery state shown.

Two shapes are accepted:
- classic R4: `criteria` = `CarePlan?patient=Patient/123&status=active`,
  `channel.payload` absent (an empty POST) or application/fhir+json (the resource);
- the R4 flavour of the Subscriptions R5 Backport IG: `criteria` = a Concord topic
  canonical ({fhir base}/SubscriptionTopic/careplan-changes, goal-changes,
  medicationstatement-changes), filters in `_criteria.extension` backport-filter-criteria,
  the content (empty | id-only | full-resource) in `channel._payload.extension`
  backport-payload-content, backport-heartbeat-period and backport-timeout on the channel.

On either, Concord's own extensions: subscription-elements (valueString, repeated: only
changes of these top-level elements are notified) and subscription-secret (valueString:
notifications are signed with it; it is never served back)."""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec

from domain.errors import Invalid
from fhir.mapping import extensions as ext
from fhir.subscriptions import topics
from fhir.subscriptions.criteria import Condition, Criteria, parse, parse_elements
from service.db.repos.subscriptions import SubscriptionRepository, SubscriptionRow
from service.db.uow import UnitOfWork

STATUSES = ("requested", "active", "error", "off")
CONTENTS = ("empty", "id-only", "full-resource")
JSON_TYPES = ("application/fhir+json", "application/json")
SECRET_MIN, SECRET_MAX = 16, 500
TIMEOUT_MAX = 60
"""Seconds: the longest a receiver may take to answer (delivery's lease outlasts it)."""
HEARTBEAT_MIN = 10
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# Headers Concord sets itself; a subscription may not override them.
_RESERVED = frozenset({"content-type", "content-length", "host", "transfer-encoding",
                       "connection", "user-agent"})


class Spec(msgspec.Struct, frozen=True, kw_only=True):
    """A Subscription resource, checked, as delivery needs it."""

    id: str
    status: str
    """active or off: what the server makes of the requested status."""
    criteria: Criteria
    text: str
    """The criteria as the client wrote them (the filters, for a topic)."""
    topic: str | None
    endpoint: str
    headers: tuple[tuple[str, str], ...]
    payload: str
    payload_defaulted: bool
    secret: str | None
    timeout_seconds: int | None
    heartbeat_seconds: int | None
    ends_at: dt.datetime | None


async def on_write(uow: UnitOfWork, clinic_id: uuid.UUID, resource: dict[str, Any],
                   now: dt.datetime) -> dict[str, Any]:
    """Check a Subscription being created or updated (Invalid names the FHIRPath of what
    is wrong), keep its delivery row, and return the resource to store. A new
    subscription sees the changes committed from now on; an update keeps its place in
    the change feed and its undelivered notifications, which are tried again at once
    (the endpoint may just have been fixed). The caller assigns the id first."""
    spec = read(resource)
    repo = SubscriptionRepository(uow.conn)
    status = "off" if spec.ends_at is not None and spec.ends_at <= now else spec.status
    values: dict[str, Any] = {
        "status": status,
        "criteria": {"text": spec.text, **msgspec.to_builtins(spec.criteria)},
        "endpoint": spec.endpoint,
        "headers": [list(h) for h in spec.headers],
        "payload": spec.payload,
        "topic": spec.topic,
        "timeout_seconds": spec.timeout_seconds,
        "heartbeat_seconds": spec.heartbeat_seconds,
        "ends_at": spec.ends_at,
    }
    existing = await repo.get(clinic_id, spec.id, for_update=True)
    if existing is None:
        await repo.insert({**values, "clinic_id": clinic_id, "id": spec.id,
                           "secret": spec.secret, "cursor_seq": await repo.last_seq()})
    else:
        if spec.secret is not None:
            values["secret"] = spec.secret
        if existing.status == "off" and status != "off":
            # Switched back on: from now on, like a new subscription.
            values["cursor_seq"] = await repo.last_seq()
        await repo.update(clinic_id, spec.id, values)
        if status != "off":
            await repo.retry_now(clinic_id, spec.id, now)
    row = await repo.get(clinic_id, spec.id)
    assert row is not None
    return present(_as_stored(resource, spec), row)


async def on_delete(uow: UnitOfWork, clinic_id: uuid.UUID, subscription_id: str) -> None:
    """Stop the subscription: its row and undelivered notifications go."""
    await SubscriptionRepository(uow.conn).delete(clinic_id, subscription_id)


async def publish_state(uow: UnitOfWork, clinic_id: uuid.UUID, subscription_id: str,
                        now: dt.datetime) -> bool:
    """Write a new version of the stored Subscription if its status, error or delivery
    extension no longer say what the delivery row says. Locks the resource before it
    reads the row, in the order the write path takes them. Returns whether it wrote."""
    stored = await uow.store.current(clinic_id, "Subscription", subscription_id,
                                     for_update=True)
    if stored is None or stored.deleted:
        return False
    row = await SubscriptionRepository(uow.conn).get(clinic_id, subscription_id)
    if row is None:
        return False
    wanted = present(stored.resource, row)
    if _content(wanted) == _content(stored.resource):
        return False
    await uow.store.put(clinic_id, wanted, now=now, patient_id=stored.patient_id,
                        original=stored.original, projection=stored.projection,
                        previous=stored)
    return True


def present(resource: dict[str, Any], row: SubscriptionRow) -> dict[str, Any]:
    """`resource` showing the delivery row's state: `status`, `error` (the last delivery
    error while one stands) and the subscription-delivery extension (consecutive failed
    attempts, when an event was last delivered)."""
    shown = copy.deepcopy(resource)
    shown["status"] = row.status
    shown.pop("error", None)
    if row.last_error is not None and row.status != "off":
        shown["error"] = row.last_error
    extensions = [e for e in shown.get("extension", [])
                  if not (isinstance(e, dict) and e.get("url") == ext.SUBSCRIPTION_DELIVERY)]
    parts: list[dict[str, Any]] = [{"url": "attempts", "valueUnsignedInt": row.attempts}]
    if row.last_delivered_at is not None:
        parts.append({"url": "lastDelivered",
                      "valueInstant": _instant(row.last_delivered_at)})
    if row.attempts or row.last_delivered_at is not None:
        extensions.append({"url": ext.SUBSCRIPTION_DELIVERY, "extension": parts})
    if extensions:
        shown["extension"] = extensions
    else:
        shown.pop("extension", None)
    return shown


def criteria_of(row: SubscriptionRow) -> Criteria:
    return msgspec.convert(row.criteria, Criteria)


# -- reading a Subscription ---------------------------------------------------------------

def read(resource: Any) -> Spec:
    """The checked Spec of a Subscription resource, or Invalid naming the FHIRPath."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise Invalid("Subscription.resourceType", "a Subscription resource is required")
    subscription_id = resource.get("id")
    if not isinstance(subscription_id, str) or not _ID.fullmatch(subscription_id):
        raise Invalid("Subscription.id", "a FHIR id is required")
    status = resource.get("status")
    if status not in STATUSES:
        raise Invalid("Subscription.status", f"one of {', '.join(STATUSES)}")
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        raise Invalid("Subscription.channel", "a channel (type rest-hook, endpoint) is required")
    if channel.get("type") != "rest-hook":
        raise Invalid("Subscription.channel.type",
                      "only rest-hook channels are offered by this server")
    elements = _extension_values(resource, "Subscription", ext.SUBSCRIPTION_ELEMENTS,
                                 "valueString")
    secrets = _extension_values(resource, "Subscription", ext.SUBSCRIPTION_SECRET,
                                "valueString")
    criteria, text, topic, defaulted, payload = _criteria(resource, channel)
    criteria = msgspec.structs.replace(
        criteria, elements=parse_elements(criteria.resource_type, elements))
    return Spec(
        id=subscription_id,
        status="off" if status == "off" else "active",
        criteria=criteria, text=text, topic=topic,
        endpoint=_endpoint(channel.get("endpoint")),
        headers=_headers(channel.get("header")),
        payload=payload, payload_defaulted=defaulted,
        secret=_secret(secrets),
        timeout_seconds=_seconds(channel, topics.TIMEOUT, 1, TIMEOUT_MAX),
        heartbeat_seconds=_seconds(channel, topics.HEARTBEAT_PERIOD, HEARTBEAT_MIN, None),
        ends_at=_end(resource.get("end")),
    )


def _criteria(resource: dict[str, Any], channel: dict[str, Any]
              ) -> tuple[Criteria, str, str | None, bool, str]:
    """(criteria, their text, topic canonical, content defaulted?, content)."""
    raw = resource.get("criteria")
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("Subscription.criteria",
                      "a search (CarePlan?patient=Patient/123) or a topic canonical is "
                      "required")
    filters = _extension_values(resource.get("_criteria") or {}, "Subscription.criteria",
                                topics.FILTER_CRITERIA, "valueString")
    mime = channel.get("payload")
    if mime is not None and (not isinstance(mime, str)
                             or mime.split(";", 1)[0].strip() not in JSON_TYPES):
        raise Invalid("Subscription.channel.payload",
                      "application/fhir+json, or no payload for an empty notification")
    name = topics.topic_name(raw.strip())
    if name is None:
        if "/SubscriptionTopic/" in raw:
            raise Invalid("Subscription.criteria",
                          f"not a topic of this server; it offers {', '.join(topics.TOPICS)}")
        if filters:
            field, _ = filters[0]
            raise Invalid(field, "filter criteria go with a topic canonical in criteria")
        content = "empty" if mime is None else "full-resource"
        return parse(raw, "Subscription.criteria"), raw.strip(), None, False, content
    resource_type = topics.TOPICS[name]
    conditions: list[Condition] = []
    for field, value in filters:
        conditions.extend(parse(value, field, resource_type=resource_type).conditions)
    contents = _extension_values(channel.get("_payload") or {},
                                 "Subscription.channel.payload", topics.PAYLOAD_CONTENT,
                                 "valueCode")
    if len(contents) > 1:
        raise Invalid(contents[1][0], "one payload content at most")
    if contents:
        field, content = contents[0]
        if content not in CONTENTS:
            raise Invalid(field, f"one of {', '.join(CONTENTS)}")
        if content != "empty" and mime is None:
            raise Invalid("Subscription.channel.payload",
                          f"{content} notifications need payload application/fhir+json")
        defaulted = False
    else:
        # Without a content, the identifiers only: the receiver reads what it may see.
        content, defaulted = ("empty" if mime is None else "id-only"), mime is not None
    text = "&".join(str(v) for _, v in filters) or resource_type
    criteria = Criteria(resource_type=resource_type, conditions=tuple(conditions))
    return criteria, text, raw.strip(), defaulted, content


def _endpoint(value: Any) -> str:
    field = "Subscription.channel.endpoint"
    if not isinstance(value, str) or not value:
        raise Invalid(field, "an http(s) URL is required for a rest-hook")
    if len(value) > 1000 or any(c.isspace() or ord(c) < 32 for c in value):
        raise Invalid(field, "an http(s) URL of at most 1000 characters, without spaces")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise Invalid(field, "not a well-formed URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field, "an absolute http or https URL is required")
    if parts.fragment or (port is not None and not 0 < port < 65536):
        raise Invalid(field, "an http(s) URL without a fragment is required")
    return value


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Invalid("Subscription.channel.header", "a list of 'Name: value' strings")
    headers: list[tuple[str, str]] = []
    for i, item in enumerate(value):
        field = f"Subscription.channel.header[{i}]"
        if not isinstance(item, str) or ":" not in item:
            raise Invalid(field, "a header as 'Name: value'")
        name, _, content = item.partition(":")
        name, content = name.strip(), content.strip()
        if not _HEADER_NAME.fullmatch(name):
            raise Invalid(field, "the header name is not a valid HTTP header name")
        if not content or len(content) > 4000 or any(ord(c) < 32 or ord(c) == 127
                                                     for c in content):
            raise Invalid(field, "a header value of printable characters is required")
        lowered = name.lower()
        if lowered in _RESERVED or lowered.startswith("x-concord-"):
            raise Invalid(field, f"{name} is set by Concord itself")
        headers.append((name, content))
    return tuple(headers)


def _secret(values: list[tuple[str, Any]]) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise Invalid(values[1][0], "one secret at most")
    field, value = values[0]
    if not isinstance(value, str) or not SECRET_MIN <= len(value) <= SECRET_MAX:
        raise Invalid(field, f"a secret of {SECRET_MIN} to {SECRET_MAX} characters")
    return value


def _seconds(channel: dict[str, Any], url: str, low: int, high: int | None) -> int | None:
    values = _extension_values(channel, "Subscription.channel", url, "valueUnsignedInt")
    if not values:
        return None
    field, value = values[-1]
    if (not isinstance(value, int) or isinstance(value, bool) or value < low
            or (high is not None and value > high)):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Invalid(field, f"seconds, {bound}")
    return value


def _end(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("Subscription.end", "an instant such as 2030-01-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise Invalid("Subscription.end", "an instant with a time zone")
    return parsed


def _extension_values(holder: Any, path: str, url: str,
                      value_key: str) -> list[tuple[str, Any]]:
    """(FHIRPath of the value, value) of each extension `url` on `holder`."""
    found: list[tuple[str, Any]] = []
    extensions = holder.get("extension") if isinstance(holder, dict) else None
    if not isinstance(extensions, list):
        return found
    for i, item in enumerate(extensions):
        if isinstance(item, dict) and item.get("url") == url:
            found.append((f"{path}.extension[{i}].{value_key}", item.get(value_key)))
    return found


# -- the stored form ----------------------------------------------------------------------

def _as_stored(resource: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """What the server keeps of what the client sent: no secret, its profile named, the
    payload content it chose on the client's behalf written down."""
    stored = copy.deepcopy(resource)
    kept = [e for e in stored.get("extension", [])
            if not (isinstance(e, dict) and e.get("url") == ext.SUBSCRIPTION_SECRET)]
    if kept:
        stored["extension"] = kept
    else:
        stored.pop("extension", None)
    if spec.topic is not None:
        meta = stored.setdefault("meta", {})
        profiles = meta.setdefault("profile", [])
        if topics.BACKPORT_SUBSCRIPTION not in profiles:
            profiles.append(topics.BACKPORT_SUBSCRIPTION)
        if spec.payload_defaulted:
            channel = stored["channel"]
            holder = channel.setdefault("_payload", {})
            holder.setdefault("extension", []).append(
                {"url": topics.PAYLOAD_CONTENT, "valueCode": spec.payload})
    return stored


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

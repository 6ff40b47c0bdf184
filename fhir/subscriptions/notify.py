"""The HTTP request a notification becomes, and how it is signed.

Classic R4 rest-hook (as R4 defines the channel):
- no payload: `POST {endpoint}` with an empty body, for every event;
- payload application/fhir+json: the endpoint is a FHIR base, so a create or update is
  `PUT {endpoint}/{type}/{id}` with the resource as it was at that version, and a delete
  (which R4 does not notify; Concord does) is `DELETE {endpoint}/{type}/{id}`.

Topic-based (Subscriptions Backport, R4): `POST {endpoint}` with a history Bundle whose
first entry is the backport-subscription-status-r4 Parameters (subscription, topic,
status, type event-notification, events-since-subscription-start, notification-event
with event-number, timestamp and, unless the content is empty, focus); with
full-resource, a second entry holds the resource (a delete: the entry's request only).

Every request carries:
- `X-Concord-Event-Id`: `{subscription id}:{event number}`, the same on every attempt:
  a receiver that has seen it already has this event;
- `X-Concord-Event`: create, update, delete (heartbeat for a heartbeat);
- `X-Concord-Focus`: `{type}/{id}/_history/{version}` of the change (empty for a
  heartbeat): with an empty body, this is what changed;
- `X-Concord-Timestamp`: the sending time, unix seconds;
- with a secret, `X-Concord-Signature`: `sha256=` and the lowercase hex HMAC-SHA256,
  keyed with the secret (UTF-8), of the bytes
  `{timestamp}.{event id}.{event}.{focus}.` followed by the raw body.
  `verify_signature` checks one the way a receiver should."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from fhir.subscriptions import topics
from service.db.repos.subscriptions import Change, Pending, SubscriptionRow

FHIR_JSON = "application/fhir+json"
SIGNATURE_PREFIX = "sha256="
TOLERANCE = 300.0
"""Seconds a receiver should accept between X-Concord-Timestamp and its own clock."""


class Outgoing(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def event_id(subscription_id: str, event_number: int) -> str:
    return f"{subscription_id}:{event_number}"


def focus_of(change: Change) -> str:
    return f"{change.resource_type}/{change.id}/_history/{change.version_id}"


def signed_bytes(timestamp: int | str, event: str, kind: str, focus: str,
                 body: bytes) -> bytes:
    return f"{timestamp}.{event}.{kind}.{focus}.".encode() + body


def sign(secret: str, timestamp: int | str, event: str, kind: str, focus: str,
         body: bytes) -> str:
    """The X-Concord-Signature value."""
    mac = hmac.new(secret.encode(), signed_bytes(timestamp, event, kind, focus, body),
                   hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, *,
                     now: float | None = None, tolerance: float = TOLERANCE) -> bool:
    """For receivers: do the X-Concord-* headers and the raw body carry a valid signature,
    sent within `tolerance` seconds of `now`? Compares in constant time."""
    timestamp = headers.get("X-Concord-Timestamp", "")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    expected = sign(secret, timestamp, headers.get("X-Concord-Event-Id", ""),
                    headers.get("X-Concord-Event", ""), headers.get("X-Concord-Focus", ""),
                    body)
    return hmac.compare_digest(expected.encode(), headers.get("X-Concord-Signature",
                                                              "").encode())


def build(subscription: SubscriptionRow, pending: Pending, fhir_base: str,
          now: dt.datetime) -> Outgoing:
    """The request that delivers `pending` for `subscription`."""
    change = pending.change
    if subscription.topic is None:
        method, url, body = _classic(subscription, change)
    else:
        method, url = "POST", subscription.endpoint
        body = msgspec.json.encode(notification_bundle(subscription, subscription.topic,
                                                       pending, fhir_base, now))
    return _request(subscription, method, url, body, now,
                    event=event_id(subscription.id, pending.event_number),
                    kind=change.method, focus=focus_of(change))


def heartbeat(subscription: SubscriptionRow, fhir_base: str, now: dt.datetime) -> Outgoing:
    """A topic-based subscription's heartbeat: a status Bundle with no event."""
    assert subscription.topic is not None, "only topic-based subscriptions beat"
    body = msgspec.json.encode(_bundle(subscription, subscription.topic, fhir_base, now,
                                       "heartbeat", None, []))
    stamp = int(now.timestamp())
    return _request(subscription, "POST", subscription.endpoint, body, now,
                    event=f"{subscription.id}:heartbeat:{stamp}", kind="heartbeat", focus="")


def _classic(subscription: SubscriptionRow, change: Change) -> tuple[str, str, bytes]:
    if subscription.payload == "empty":
        return "POST", subscription.endpoint, b""
    url = _under(subscription.endpoint, f"{change.resource_type}/{change.id}")
    if change.method == "delete" or change.resource is None:
        return "DELETE", url, b""
    return "PUT", url, msgspec.json.encode(change.resource)


def _under(base: str, path: str) -> str:
    """`base` (a FHIR base URL, perhaps with a query) with `path` appended to its path."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + path))


def _request(subscription: SubscriptionRow, method: str, url: str, body: bytes,
             now: dt.datetime, *, event: str, kind: str, focus: str) -> Outgoing:
    timestamp = str(int(now.timestamp()))
    headers = {name: value for name, value in subscription.headers}
    headers.update({
        "X-Concord-Event-Id": event,
        "X-Concord-Event": kind,
        "X-Concord-Focus": focus,
        "X-Concord-Timestamp": timestamp,
    })
    if body:
        headers["Content-Type"] = FHIR_JSON
    if subscription.secret:
        headers["X-Concord-Signature"] = sign(subscription.secret, timestamp, event, kind,
                                              focus, body)
    return Outgoing(method=method, url=url, headers=headers, body=body)


# -- the backport notification Bundle ------------------------------------------------------

def notification_bundle(subscription: SubscriptionRow, topic: str, pending: Pending,
                        fhir_base: str, now: dt.datetime) -> dict[str, Any]:
    change = pending.change
    local = f"{fhir_base}/{change.resource_type}/{change.id}"
    event: list[dict[str, Any]] = [
        {"name": "event-number", "valueString": str(pending.event_number)},
        {"name": "timestamp", "valueInstant": _instant(change.last_updated)},
    ]
    if subscription.payload != "empty":
        event.append({"name": "focus", "valueReference": {"reference": local}})
    entries: list[dict[str, Any]] = []
    if subscription.payload == "full-resource":
        entries.append(_resource_entry(change, local))
    return _bundle(subscription, topic, fhir_base, now, "event-notification", event, entries)


def _resource_entry(change: Change, local: str) -> dict[str, Any]:
    relative = f"{change.resource_type}/{change.id}"
    if change.method == "delete" or change.resource is None:
        return {"fullUrl": local, "request": {"method": "DELETE", "url": relative},
                "response": {"status": "204"}}
    created = change.method == "create"
    return {
        "fullUrl": local,
        "resource": change.resource,
        "request": {"method": "POST" if created else "PUT",
                    "url": change.resource_type if created else relative},
        "response": {"status": "201" if created else "200",
                     "etag": f'W/"{change.version_id}"',
                     "lastModified": _instant(change.last_updated)},
    }


def _bundle(subscription: SubscriptionRow, topic: str, fhir_base: str, now: dt.datetime,
            notification_type: str, event: list[dict[str, Any]] | None,
            entries: list[dict[str, Any]]) -> dict[str, Any]:
    subscription_url = f"{fhir_base}/Subscription/{subscription.id}"
    status_id = str(uuid.uuid4())
    parameters: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": subscription_url}},
        {"name": "topic", "valueCanonical": topic},
        {"name": "status", "valueCode": subscription.status},
        {"name": "type", "valueCode": notification_type},
        {"name": "events-since-subscription-start",
         "valueString": str(subscription.events_since_start)},
    ]
    if event is not None:
        parameters.append({"name": "notification-event", "part": event})
    status_entry = {
        "fullUrl": f"urn:uuid:{status_id}",
        "resource": {
            "resourceType": "Parameters",
            "id": status_id,
            "meta": {"profile": [topics.STATUS_PROFILE]},
            "parameter": parameters,
        },
        "request": {"method": "GET", "url": f"{subscription_url}/$status"},
        "response": {"status": "200"},
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [topics.NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": _instant(now),
        "entry": [status_entry, *entries],
    }


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""A sent message as a FHIR R4 Communication: the trail of what Concord told a patient.

The patient's link is a bearer secret for the patient's page: it is redacted from the
payload, so that a Communication read by staff or an EHR cannot be used to answer (or opt
out) in the patient's name."""

from __future__ import annotations

import re
from typing import Any

from domain.message import Message, MessageStatus

_LINK = re.compile(r"(/p/)[A-Za-z0-9_\-.]+")
_STATUS = {
    MessageStatus.QUEUED: "preparation",
    MessageStatus.SENDING: "in-progress",
    MessageStatus.FAILED: "in-progress",
    MessageStatus.SENT: "completed",
    MessageStatus.DEAD: "not-done",
}


def redact_links(text: str) -> str:
    return _LINK.sub(r"\1[patient link]", text)


def communication(message: Message) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(message.id),
        "meta": {"versionId": str(message.version)},
        "status": _STATUS[message.status],
        "subject": {"reference": f"Patient/{message.patient_id}"},
        "recipient": [{"reference": f"Patient/{message.patient_id}"}],
        "medium": [{"text": message.channel.value}],
        "topic": {"text": message.kind},
        "payload": [{"contentString": redact_links(message.body_text)}],
    }
    if message.updated_at is not None:
        resource["meta"]["lastUpdated"] = message.updated_at.isoformat()
    if message.sent_at is not None:
        resource["sent"] = message.sent_at.isoformat()
    if message.care_plan_id is not None:
        resource["basedOn"] = [{"reference": f"CarePlan/{message.care_plan_id}"}]
    if message.status is MessageStatus.DEAD:
        resource["statusReason"] = {"text": message.last_error or "not delivered"}
    return resource

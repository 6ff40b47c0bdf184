"""Concord's CarePlans and Goals as sent to a clinic's EHR, and the merge by ownership
when the EHR has changed its copy since (docs/adr/0007-ehr-sync-merge-rule.md).

Concord owns the elements it manages: for a CarePlan its status, title, period, goals,
activities, notes and Concord's own extensions; for a Goal its lifecycle and achievement
status, description, targets and Concord's own extensions. Everything else on the EHR's
copy is the EHR's (its identifiers, author, category, extensions it added...) and is kept
exactly as the EHR has it. References are rewritten to the EHR's ids: the patient to the
EHR's Patient, goals to the Goals Concord pushed there; what the EHR cannot resolve keeps
only its display text."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from fhir.mapping import extensions as ext

OWNED: dict[str, frozenset[str]] = {
    "CarePlan": frozenset({"status", "title", "period", "goal", "activity", "note"}),
    "Goal": frozenset({"lifecycleStatus", "achievementStatus", "description", "target"}),
}
"""Top-level elements Concord owns, beside its extensions."""
CONCORD_EXTENSIONS = (ext.EXTENSION_BASE + "/", ext.GOAL_ACCEPTANCE)
"""Extension URLs (prefixes) that are Concord's on a pushed resource."""
UUID_SYSTEM = "urn:ietf:rfc:3986"
"""Concord's ids are UUIDs: the pushed copy carries `urn:uuid:<id>` under this system, so
that a conditional create finds a copy a crashed push already made."""
NOT_SENT = frozenset({"id", "meta", "text", "careTeam", "contained"})
"""Left out of a new copy: the EHR assigns id and meta; the narrative would be Concord's
words for Concord's copy; the care team is Concord's own CareTeam, which is not pushed."""
ACTIVITY_STATUS = {
    # ServiceRequest.status -> CarePlan.activity.detail.status, when the exact one is absent
    "draft": "not-started", "active": "in-progress", "on-hold": "on-hold",
    "completed": "completed", "revoked": "cancelled", "entered-in-error": "entered-in-error",
    "unknown": "unknown",
}
PERTAINS_TO_GOAL = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")

Resolve = Callable[[str, str], str | None]
"""(resource type, Concord id) -> the EHR's id, or None when the EHR has no copy."""


def is_concords(extension: Any) -> bool:
    url = extension.get("url", "") if isinstance(extension, dict) else ""
    return isinstance(url, str) and url.startswith(CONCORD_EXTENSIONS)


def concord_identifier(resource_id: str) -> dict[str, str]:
    return {"system": UUID_SYSTEM, "value": f"urn:uuid:{resource_id}"}


def references(resource: Mapping[str, Any], resource_type: str) -> list[str]:
    """Ids of the `resource_type` resources that `resource` references, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            match = _REFERENCE.match(str(node.get("reference", "")))
            if match and match.group(1) == resource_type and match.group(2) not in found:
                found.append(match.group(2))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource)
    return found


def inline_activities(care_plan: dict[str, Any],
                      service_requests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The CarePlan with each activity that references one of Concord's ServiceRequests
    written out as an inline `detail`, which every R4 EHR reads without the request."""
    activities = []
    for activity in care_plan.get("activity") or []:
        match = _REFERENCE.match(str((activity.get("reference") or {}).get("reference", "")))
        request = service_requests.get(match.group(2)) if match \
            and match.group(1) == "ServiceRequest" else None
        activities.append({"detail": activity_detail(request)} if request else activity)
    if not activities:
        return care_plan
    return {**care_plan, "activity": activities}


def activity_detail(request: Mapping[str, Any]) -> dict[str, Any]:
    extensions = request.get("extension") or []
    status = next((e.get("valueCode") for e in extensions
                   if e.get("url") == ext.ACTIVITY_STATUS), None)
    detail: dict[str, Any] = {
        "kind": "ServiceRequest",
        "status": status or ACTIVITY_STATUS.get(str(request.get("status")), "unknown"),
    }
    owned = [e for e in extensions if e.get("url") == ext.OWNING_DISCIPLINE]
    if owned:
        detail["extension"] = owned
    if request.get("code"):
        detail["code"] = request["code"]
    goals = [e["valueReference"] for e in extensions
             if e.get("url") == PERTAINS_TO_GOAL and e.get("valueReference")]
    if goals:
        detail["goal"] = goals
    if request.get("occurrenceTiming"):
        detail["scheduledTiming"] = request["occurrenceTiming"]
    if request.get("patientInstruction"):
        detail["description"] = request["patientInstruction"]
    return detail


def outbound(resource: Mapping[str, Any], resolve: Resolve) -> dict[str, Any]:
    """Concord's resource as a new copy for the EHR: without what the EHR assigns, with
    Concord's identifier, every reference rewritten by `resolve`."""
    body = {k: copy.deepcopy(v) for k, v in resource.items() if k not in NOT_SENT}
    identifiers = [i for i in body.get("identifier") or [] if i.get("system") != UUID_SYSTEM]
    body["identifier"] = [concord_identifier(str(resource["id"])), *identifiers]
    _rewrite(body, resolve)
    return body


def merge_owned(theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """The EHR's copy with Concord's owned elements and extensions put in: what Concord
    owns is Concord's (an owned element Concord does not have is removed), everything
    else stays as the EHR has it. `ours` is an `outbound` body."""
    resource_type = str(theirs["resourceType"])
    owned = OWNED[resource_type]
    merged: dict[str, Any] = {
        k: copy.deepcopy(v) for k, v in theirs.items()
        if k not in owned and k not in ("meta", "extension", "identifier")
    }
    meta = {k: v for k, v in (theirs.get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated")}
    if meta:
        merged["meta"] = meta
    for key in sorted(owned):
        if key in ours:
            merged[key] = copy.deepcopy(ours[key])
    extensions = [e for e in theirs.get("extension") or [] if not is_concords(e)]
    extensions += [copy.deepcopy(e) for e in ours.get("extension") or [] if is_concords(e)]
    if extensions:
        merged["extension"] = extensions
    identifiers = list(copy.deepcopy(theirs.get("identifier") or []))
    for identifier in ours.get("identifier") or []:
        if not any(i.get("system") == identifier.get("system")
                   and i.get("value") == identifier.get("value") for i in identifiers):
            identifiers.append(copy.deepcopy(identifier))
    if identifiers:
        merged["identifier"] = identifiers
    merged["resourceType"], merged["id"] = resource_type, theirs["id"]
    return merged


def _rewrite(node: Any, resolve: Resolve) -> None:
    if isinstance(node, dict):
        target = node.get("reference")
        if isinstance(target, str):
            match = _REFERENCE.match(target)
            remote = resolve(match.group(1), match.group(2)) if match else None
            if remote is not None and match is not None:
                node["reference"] = f"{match.group(1)}/{remote}"
            else:
                del node["reference"]
                node.setdefault("display", f"{match.group(1) if match else 'resource'} "
                                           "kept in Concord")
        for value in node.values():
            _rewrite(value, resolve)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item, resolve)

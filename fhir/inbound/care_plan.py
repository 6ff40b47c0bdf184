"""A client's FHIR CarePlan in Concord's terms: the plan's fields, the statuses it is
recorded through, the practitioners it names for its care team, and its inline
activities.

A plan an EHR sends already closed is history, and Concord records it as such: created
as a draft, its team, goals and activities put in place, then moved to the status it
was sent with along the path any plan takes (completed: draft, active, completed;
revoked and entered-in-error: straight from draft). Nothing is skipped on the way: a
plan that was active had a lead, and a completed one holds no open goals, so a plan
that cannot show that is refused with the reason, not recorded as something it was not.

Who is on the team: the practitioners of the CareTeams the plan references (on this
server, or contained in the plan) and the plan's author, when they are this clinic's
active staff. Anyone else a CareTeam names (a patient, a relative, a practitioner of
another organisation, a contained Practitioner) stays in the resource as written but
does not join Concord's team. The participant whose role says lead leads; else the
author, who is responsible for the plan (R4 CarePlan.author); else the first named."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from domain.activity import Frequency
from domain.errors import Invalid
from domain.transitions import PLAN
from domain.vocab import ActivityKind, PlanStatus
from fhir.inbound.common import date_of, extension_values, text_of
from fhir.mapping import extensions as ext
from fhir.writes.validation import local_reference

PATHS = {
    "title": "CarePlan.title",
    "status": "CarePlan.status",
    "period_start": "CarePlan.period.start",
    "period_end": "CarePlan.period.end",
    "what_matters": "CarePlan.extension",
    "health_concerns": "CarePlan.extension",
    "staff_id": "CarePlan.careTeam",
    "lead": "CarePlan.careTeam",
}


class Named(msgspec.Struct, kw_only=True, frozen=True):
    """A practitioner the plan names for its team, before Concord knows whether they
    are its staff."""

    practitioner_id: str
    lead: bool
    path: str


def plan_fields(resource: dict[str, Any]) -> dict[str, Any]:
    period = resource.get("period") or {}
    matters = extension_values(resource, ext.WHAT_MATTERS)
    title = resource.get("title") or text_of({"text": resource.get("description")}) \
        or "Care plan"
    return {
        "title": str(title)[:300],
        "period_start": date_of(period.get("start"), "CarePlan.period.start"),
        "period_end": date_of(period.get("end"), "CarePlan.period.end"),
        "what_matters": str(matters[0].get("valueString")) if matters else None,
        "health_concerns": [str(e.get("valueString"))
                            for e in extension_values(resource, ext.HEALTH_CONCERN)],
    }


def plan_status(resource: dict[str, Any]) -> PlanStatus:
    try:
        return PlanStatus(str(resource.get("status")))
    except ValueError:
        raise Invalid("CarePlan.status",
                      f"Concord does not keep plans in status {resource.get('status')!r}") \
            from None


def recorded_through(target: PlanStatus) -> list[PlanStatus]:
    """The statuses a plan created as `target` passes through after draft: the shortest
    path the plan lifecycle allows (empty for a draft)."""
    paths: dict[PlanStatus, list[PlanStatus]] = {PlanStatus.DRAFT: []}
    queue = deque([PlanStatus.DRAFT])
    while queue:
        status = queue.popleft()
        for following in sorted(PLAN[status]):
            if following not in paths:
                paths[following] = [*paths[status], following]
                queue.append(following)
    return paths[target]


def without_lead(target: PlanStatus) -> str:
    """Why a plan sent as `target` cannot be recorded when nobody on this clinic's staff
    is named to lead it."""
    how = ("name the responsible practitioner, one of this clinic's staff, in "
           "CarePlan.author or among the participants of a CareTeam in CarePlan.careTeam, "
           "or send the plan as a draft")
    if target is PlanStatus.ACTIVE:
        return f"an active plan needs a lead on its care team: {how}"
    return (f"a plan sent as {target.value} is recorded through draft and active to "
            f"{target.value}, and an active plan needs a lead on its care team: {how}")


def care_teams(resource: dict[str, Any], base: str) -> list[tuple[str, dict[str, Any] | str]]:
    """Each CareTeam the plan references, with its path: the contained resource itself,
    or the id of one on this server."""
    contained = {str(c.get("id")): c for c in resource.get("contained", [])
                 if isinstance(c, dict) and c.get("resourceType") == "CareTeam"}
    found: list[tuple[str, dict[str, Any] | str]] = []
    for index, ref in enumerate(resource.get("careTeam", [])):
        value = str((ref or {}).get("reference", ""))
        path = f"CarePlan.careTeam[{index}]"
        if value.startswith("#") and value[1:] in contained:
            found.append((path, contained[value[1:]]))
            continue
        local = local_reference(value, base)
        if local is not None and local[0] == "CareTeam":
            found.append((path, local[1]))
    return found


def _is_lead(participant: dict[str, Any]) -> bool:
    roles = participant.get("role") or []
    return any("lead" in (text_of(r) or "").lower() for r in roles)


def participants(team: dict[str, Any], path: str, base: str) -> list[Named]:
    """The practitioners on this server a CareTeam names (others are not candidates)."""
    named = []
    for index, participant in enumerate(team.get("participant", [])):
        ref = str((participant.get("member") or {}).get("reference", ""))
        local = local_reference(ref, base)
        if local is not None and local[0] == "Practitioner":
            named.append(Named(practitioner_id=local[1], lead=_is_lead(participant),
                               path=f"{path} -> CareTeam.participant[{index}]"))
    return named


def author(resource: dict[str, Any], base: str) -> Named | None:
    local = local_reference(str((resource.get("author") or {}).get("reference", "")), base)
    if local is None or local[0] != "Practitioner":
        return None
    return Named(practitioner_id=local[1], lead=False, path="CarePlan.author")


def activity_kind(concept: Any) -> ActivityKind:
    candidates = [text_of(concept) or ""]
    if isinstance(concept, dict):
        candidates += [str(c.get("code", "")) for c in concept.get("coding", [])]
    for candidate in candidates:
        try:
            return ActivityKind(candidate.strip().lower())
        except ValueError:
            continue
    return ActivityKind.OTHER


def frequency(timing: Any) -> Frequency | None:
    repeat = (timing or {}).get("repeat") or {}
    if "frequency" not in repeat or repeat.get("periodUnit") not in ("h", "d", "wk", "mo"):
        return None
    return Frequency(count=int(repeat["frequency"]), period=int(repeat.get("period", 1)),
                     unit=str(repeat["periodUnit"]))


def goal_references(refs: list[Any]) -> list[str]:
    """The Goal ids an activity serves. A goal contained in the plan is part of the
    EHR's record as written, not one of Concord's goals, so it links nothing here."""
    return [str((ref or {}).get("reference", "")).removeprefix("Goal/") for ref in refs
            if not str((ref or {}).get("reference", "")).startswith("#")]

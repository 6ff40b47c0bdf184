"""A FHIR Goal as Concord's goal fields (GAS levels, owners and review cadence travel as
Concord's extensions; acceptance as the HL7 goal-acceptance extension)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.errors import Invalid
from domain.goal import GasLevels, Measure
from domain.vocab import GoalAchievement, GoalLifecycle
from fhir.inbound.common import date_of, extension_values, text_of
from fhir.mapping import extensions as ext

PATHS = {
    "description": "Goal.description",
    "owners": "Goal.extension",
    "expressed_by": "Goal.expressedBy",
    "lifecycle_status": "Goal.lifecycleStatus",
    "measure": "Goal.target[0]",
    "gas": "Goal.extension",
    "gas_weight": "Goal.extension",
    "review_cadence_days": "Goal.extension",
    "next_review_date": "Goal.statusDate",
}
_GAS = {"-2": "much_less", "-1": "less", "0": "expected", "+1": "more", "+2": "much_more"}


def _measure(resource: dict[str, Any]) -> Measure | None:
    targets = resource.get("target") or []
    if not targets:
        return None
    target = targets[0]
    what = text_of(target.get("measure")) or "target"
    if "detailString" in target:
        value = str(target["detailString"])
    elif "detailQuantity" in target:
        quantity = target["detailQuantity"]
        value = f"{quantity.get('comparator', '')}{quantity.get('value', '')} " \
                f"{quantity.get('unit') or quantity.get('code') or ''}".strip()
    elif "detailInteger" in target:
        value = str(target["detailInteger"])
    elif "dueDate" in target:
        value = f"by {target['dueDate']}"
    else:
        return None
    return Measure(description=what, target=value)


def _gas(resource: dict[str, Any]) -> GasLevels | None:
    found = extension_values(resource, ext.GAS_LEVELS)
    if not found:
        return None
    levels = {e.get("url"): e.get("valueString") for e in found[0].get("extension", [])}
    missing = [level for level in _GAS if not levels.get(level)]
    if missing:
        raise Invalid("Goal.extension",
                      f"GAS levels need all five of -2..+2; missing {', '.join(missing)}")
    return GasLevels(much_less=str(levels["-2"]), less=str(levels["-1"]),
                     expected=str(levels["0"]), more=str(levels["+1"]),
                     much_more=str(levels["+2"]))


def goal_fields(resource: dict[str, Any]) -> dict[str, Any]:
    description = text_of(resource.get("description"))
    if not description:
        raise Invalid("Goal.description",
                      "a goal needs its description, in the patient's words")
    fields: dict[str, Any] = {
        "description": description,
        "owners": [str(e.get("valueCode")) for e in
                   extension_values(resource, ext.OWNING_DISCIPLINE)],
        "measure": _measure(resource),
        "gas": _gas(resource),
    }
    try:
        fields["lifecycle_status"] = GoalLifecycle(resource.get("lifecycleStatus", "proposed"))
    except ValueError:
        raise Invalid("Goal.lifecycleStatus", "not a goal lifecycle status") from None
    for coding in (resource.get("achievementStatus") or {}).get("coding", []):
        try:
            fields["achievement_status"] = GoalAchievement(coding.get("code"))
        except ValueError:
            continue
    weights = extension_values(resource, ext.GAS_WEIGHT)
    if weights:
        fields["gas_weight"] = float(weights[0].get("valueDecimal", 1.0))
    cadence = extension_values(resource, ext.REVIEW_CADENCE)
    if cadence:
        fields["review_cadence_days"] = int(cadence[0].get("valueDuration", {}).get("value", 28))
    review = _next_review(resource)
    if review is not None:
        fields["next_review_date"] = review
    return fields


def _next_review(resource: dict[str, Any]) -> dt.date | None:
    """Concord serves a goal's next review date as its statusDate; a Goal carrying
    Concord's review cadence speaks that convention. Another system's statusDate is
    when the goal's status took effect (R4), often years ago: read as a review date it
    would make the goal overdue at once, so Concord schedules the first review itself."""
    if not extension_values(resource, ext.REVIEW_CADENCE):
        return None
    return date_of(resource.get("statusDate"), "Goal.statusDate")


def expressed_by_reference(resource: dict[str, Any]) -> str | None:
    by = resource.get("expressedBy")
    return str(by.get("reference")) if isinstance(by, dict) and by.get("reference") else None

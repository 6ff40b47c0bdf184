"""A submitted check-in questionnaire as a FHIR R4 QuestionnaireResponse (a JSON dict,
validated against fhir.resources' R4B models in the tests, stored as is)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from domain.instruments.questionnaire import Instrument


def questionnaire_response(
    *,
    response_id: uuid.UUID,
    instrument: Instrument,
    canonical: Instrument,
    codes: Mapping[str, str],
    patient_id: uuid.UUID,
    care_plan_id: uuid.UUID | None,
    language: str,
    authored_at: dt.datetime,
) -> dict[str, Any]:
    """`instrument` is the questionnaire as the patient was shown it (their language),
    `canonical` as it is defined; `codes` maps each item's link id to the code chosen. Each
    answer is the option's Coding as the Questionnaire defines it (system, code, display in
    the Questionnaire's own language); each item's text is the one the patient was shown,
    and `language` says which language that was."""
    system = _SYSTEMS.get(canonical.url, f"{canonical.url}/answers")
    items = []
    for item in instrument.items:
        code = codes[item.link_id]
        option = next(o for o in canonical.item(item.link_id).options if o.code == code)
        answer: dict[str, Any] = {
            "valueCoding": {"system": system, "code": code, "display": option.label}
        }
        entry: dict[str, Any] = {"linkId": item.link_id, "answer": [answer]}
        if item.text:
            entry["text"] = item.text
        items.append(entry)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response_id),
        "language": language,
        "questionnaire": f"{instrument.url}|{instrument.version}",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": authored_at.isoformat(),
        "author": {"reference": f"Patient/{patient_id}"},
        "source": {"reference": f"Patient/{patient_id}"},
        "item": items,
    }
    if care_plan_id is not None:
        resource["basedOn"] = [{"reference": f"CarePlan/{care_plan_id}"}]
    return resource


# The code systems of the built-in answer scales, by Questionnaire url. The domain's
# Instrument keeps codes and scores but not the Coding's system, which a response repeats.
_SYSTEMS = {
    "https://concord.invalid/fhir/Questionnaire/peg":
        "https://concord.invalid/fhir/CodeSystem/numeric-rating-0-10",
    "https://concord.invalid/fhir/Questionnaire/wai-sr":
        "https://concord.invalid/fhir/CodeSystem/wai-sr-frequency",
    "https://concord.invalid/fhir/Questionnaire/concord-alliance-pulse":
        "https://concord.invalid/fhir/CodeSystem/concord-alliance-pulse-agreement",
}


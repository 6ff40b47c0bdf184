"""A patient's answers to a check-in questionnaire as a FHIR R4 QuestionnaireResponse.

Built from the stored response (`service.db.repos.responses.StoredResponse`): who, when,
which plan and check-in come from its columns, the answers from the QuestionnaireResponse
stored when the patient submitted the page (each answer the option's Coding as the
Questionnaire defines it, each item's text the wording the patient was shown).

Two Concord extensions ride on it: the scores Concord computed when the answers came in
(`extensions.QUESTIONNAIRE_SCORES`: one sub-extension per score, named as the scoring
function names it, e.g. `total` for the PEG, `goal`/`task`/`bond`/`total` for the WAI-SR,
`mean` for the alliance pulse), and for an alliance questionnaire the clinician whose
relationship the patient rated (`extensions.ALLIANCE_CLINICIAN`), without which an
alliance score means nothing. A stored response never changes, so it has one version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.check_in import ALLIANCE_PULSE
from domain.instruments import alliance
from domain.instruments.questionnaire import load_builtin
from fhir.mapping import extensions as ext
from service.db.repos.responses import StoredResponse

ANSWER_TYPES = (
    "valueBoolean", "valueDecimal", "valueInteger", "valueDate", "valueDateTime",
    "valueTime", "valueString", "valueUri", "valueCoding", "valueQuantity",
)
"""The answer[x] types a stored response may carry (Attachment and Reference excepted:
Concord's questionnaires ask for neither)."""


def alliance_urls() -> frozenset[str]:
    """Canonical urls of the questionnaires that rate one clinician's relationship."""
    return frozenset({ALLIANCE_PULSE, load_builtin(alliance.INSTRUMENT).url})


def questionnaire_response(response: StoredResponse) -> dict[str, Any]:
    stored = response.resource
    patient = {"reference": f"Patient/{response.patient_id}"}
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.id),
        "meta": _meta(response),
    }
    language = stored.get("language")
    if isinstance(language, str) and language:
        resource["language"] = language
    extensions = _extensions(response)
    if extensions:
        resource["extension"] = extensions
    if response.care_plan_id is not None:
        resource["basedOn"] = [{"reference": f"CarePlan/{response.care_plan_id}"}]
    resource.update({
        "questionnaire": _canonical(response),
        "status": "completed",
        "subject": patient,
        "authored": response.authored_at.isoformat(),
        "author": patient,
        "source": patient,
    })
    items = _items(stored.get("item"))
    if items:
        resource["item"] = items
    return resource


def _meta(response: StoredResponse) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": "1"}
    if response.created_at is not None:
        meta["lastUpdated"] = response.created_at.isoformat()
    return meta


def _canonical(response: StoredResponse) -> str:
    """`url|version` as the patient answered it; the bare url if the version was not
    stored."""
    stored = response.resource.get("questionnaire")
    if isinstance(stored, str) and stored.split("|", 1)[0] == response.questionnaire:
        return stored
    return response.questionnaire


def _extensions(response: StoredResponse) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = []
    scores = _scores(response.scores)
    if scores:
        extensions.append({"url": ext.QUESTIONNAIRE_SCORES, "extension": scores})
    if response.clinician_id is not None and response.questionnaire in alliance_urls():
        extensions.append({
            "url": ext.ALLIANCE_CLINICIAN,
            "valueReference": {"reference": f"Practitioner/{response.clinician_id}"},
        })
    return extensions


def _scores(scores: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for name, value in scores.items():
        if isinstance(value, bool):
            parts.append({"url": name, "valueBoolean": value})
        elif isinstance(value, int):
            parts.append({"url": name, "valueInteger": value})
        elif isinstance(value, float):
            parts.append({"url": name, "valueDecimal": value})
    return parts


def _items(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    items = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("linkId"), str):
            continue
        item: dict[str, Any] = {"linkId": entry["linkId"]}
        if isinstance(entry.get("text"), str) and entry["text"]:
            item["text"] = entry["text"]
        answers = [a for a in map(_answer, entry.get("answer") or []) if a]
        if answers:
            item["answer"] = answers
        nested = _items(entry.get("item"))
        if nested:
            item["item"] = nested
        items.append(item)
    return items


def _answer(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    answer = {key: raw[key] for key in ANSWER_TYPES if raw.get(key) not in (None, "", {})}
    coding = answer.pop("valueCoding", None)
    if isinstance(coding, dict):
        coding = {k: v for k, v in coding.items()
                  if k in ("system", "version", "code", "display") and isinstance(v, str) and v}
        if coding:
            answer["valueCoding"] = coding
    nested = _items(raw.get("item"))
    if nested:
        answer["item"] = nested
    return answer

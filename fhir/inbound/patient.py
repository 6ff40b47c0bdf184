"""A FHIR Patient as Concord's patient fields."""

from __future__ import annotations

from typing import Any

from domain.errors import Invalid
from domain.patient import ContactPoint, Identifier, validate_contact_point
from domain.vocab import ContactSystem
from fhir.inbound.common import date_of, extension_values

TIME_ZONE = "http://hl7.org/fhir/StructureDefinition/timezone"
_SYSTEMS = {"email": ContactSystem.EMAIL, "sms": ContactSystem.SMS, "phone": ContactSystem.PHONE}

PATHS = {
    "given_name": "Patient.name[0].given[0]",
    "family_name": "Patient.name[0].family",
    "birth_date": "Patient.birthDate",
    "time_zone": "Patient.extension",
    "language": "Patient.communication[0].language",
    "contact_points": "Patient.telecom",
}


def _name(resource: dict[str, Any]) -> tuple[str, str]:
    names = resource.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if official is None:
        raise Invalid("Patient.name", "Concord needs the patient's name")
    index = names.index(official)
    family = official.get("family")
    given = (official.get("given") or [None])[0]
    if not family:
        raise Invalid(f"Patient.name[{index}].family", "Concord needs a family name")
    if not given:
        raise Invalid(f"Patient.name[{index}].given", "Concord needs a given name")
    return str(given), str(family)


def _language(resource: dict[str, Any]) -> str | None:
    for entry in resource.get("communication", []):
        for coding in entry.get("language", {}).get("coding", []):
            code = str(coding.get("code", "")).split("-")[0].lower()
            if code:
                return code
    return None


def _contact_points(resource: dict[str, Any]) -> list[ContactPoint]:
    """The telecoms Concord can message: an e-mail address, a number in E.164 form. Others
    (a local number such as 555-201-4471, a fax) stay in the stored original only."""
    points = []
    for telecom in resource.get("telecom", []):
        if telecom.get("system") not in _SYSTEMS or not telecom.get("value"):
            continue
        point = ContactPoint(system=_SYSTEMS[telecom["system"]], value=str(telecom["value"]))
        try:
            validate_contact_point("telecom", point)
        except Invalid:
            continue
        points.append(point)
    return points


def patient_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """The domain Patient's fields a FHIR Patient carries; what Concord does not model
    (addresses, gender, links...) stays in the stored original."""
    given, family = _name(resource)
    birth = date_of(resource.get("birthDate"), "Patient.birthDate")
    if birth is None:
        raise Invalid("Patient.birthDate", "Concord needs the birth date")
    fields: dict[str, Any] = {"given_name": given, "family_name": family, "birth_date": birth}
    language = _language(resource)
    if language in ("en", "es"):
        fields["language"] = language
    zones = extension_values(resource, TIME_ZONE)
    if zones:
        fields["time_zone"] = str(zones[0].get("valueCode", ""))
    fields["contact_points"] = _contact_points(resource)
    fields["identifiers"] = [
        Identifier(system=str(i["system"]), value=str(i["value"]))
        for i in resource.get("identifier", []) if i.get("system") and i.get("value")
    ]
    return fields

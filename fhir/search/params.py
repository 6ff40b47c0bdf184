"""The search parameters this server implements, per resource type: one declarative
table that the index, the query parser and the CapabilityStatement all read.

Names, types and paths follow the FHIR R4 SearchParameter registry. A path is the
registry's FHIRPath reduced to what the index evaluates: dotted element names from the
resource type, a choice element spelled with its type (`effectivePeriod`), and
`resolve()` to step into a contained resource (`#id`). `where(resolve() is Patient)`
becomes `targets=("Patient",)`."""

from __future__ import annotations

from typing import Literal

import msgspec

ParamType = Literal["token", "reference", "date", "string", "uri"]

HL7 = "http://hl7.org/fhir/SearchParameter"


class SearchParam(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: ParamType
    paths: tuple[str, ...]
    definition: str
    documentation: str
    targets: tuple[str, ...] = ()
    """For a reference: the resource types it keeps (empty: any)."""
    system: str | None = None
    """For a token on a plain `code` element: the code system its value set draws on, so
    that `system|code` finds it as well as `code`."""


def _param(
    resource_type: str, name: str, kind: ParamType, *paths: str, doc: str,
    definition: str | None = None, targets: tuple[str, ...] = (), system: str | None = None,
) -> SearchParam:
    return SearchParam(
        name=name, type=kind, paths=paths,
        definition=f"{HL7}/{definition or f'{resource_type}-{name}'}",
        documentation=doc, targets=targets, system=system,
    )


def _subject(resource_type: str, path: str, *, patient_definition: str = "clinical-patient",
             subject_definition: str | None = None) -> list[SearchParam]:
    return [
        _param(resource_type, "patient", "reference", path, targets=("Patient",),
               definition=patient_definition,
               doc="Patient/{id} (or {id}): the patient it is about"),
        _param(resource_type, "subject", "reference", path, definition=subject_definition,
               doc="Type/{id}: who or what it is about"),
    ]


def _identifier(resource_type: str, path: str, definition: str = "clinical-identifier"
                ) -> SearchParam:
    return _param(resource_type, "identifier", "token", path, definition=definition,
                  doc="system|value of a business identifier")


def _patient() -> list[SearchParam]:
    return [
        _identifier("Patient", "Patient.identifier", "Patient-identifier"),
        _param("Patient", "name", "string", "Patient.name",
               doc="any part of a name (text, family, given, prefix, suffix); starts with, "
                   "case and accents ignored; :exact, :contains"),
        _param("Patient", "family", "string", "Patient.name.family",
               definition="individual-family", doc="family name; as `name`"),
        _param("Patient", "given", "string", "Patient.name.given",
               definition="individual-given", doc="given name; as `name`"),
        _param("Patient", "birthdate", "date", "Patient.birthDate",
               definition="individual-birthdate", doc="date of birth, with prefixes"),
        _param("Patient", "gender", "token", "Patient.gender", definition="individual-gender",
               system="http://hl7.org/fhir/administrative-gender",
               doc="male | female | other | unknown"),
    ]


def _practitioner() -> list[SearchParam]:
    return [
        _identifier("Practitioner", "Practitioner.identifier", "Practitioner-identifier"),
        _param("Practitioner", "name", "string", "Practitioner.name",
               doc="any part of a name; starts with, case and accents ignored"),
    ]


def _care_team() -> list[SearchParam]:
    return [
        *_subject("CareTeam", "CareTeam.subject"),
        _param("CareTeam", "status", "token", "CareTeam.status",
               system="http://hl7.org/fhir/care-team-status",
               doc="proposed | active | suspended | inactive | entered-in-error"),
        _param("CareTeam", "category", "token", "CareTeam.category", doc="type of team"),
        _param("CareTeam", "date", "date", "CareTeam.period", definition="clinical-date",
               doc="the team's period, as a range"),
        _param("CareTeam", "participant", "reference", "CareTeam.participant.member",
               doc="a member: Practitioner/{id}, Patient/{id}, ..."),
        _identifier("CareTeam", "CareTeam.identifier"),
    ]


def _care_plan() -> list[SearchParam]:
    return [
        *_subject("CarePlan", "CarePlan.subject"),
        _param("CarePlan", "status", "token", "CarePlan.status",
               system="http://hl7.org/fhir/request-status",
               doc="draft | active | on-hold | revoked | completed | entered-in-error | unknown"),
        _param("CarePlan", "category", "token", "CarePlan.category", doc="type of plan"),
        _param("CarePlan", "date", "date", "CarePlan.period", definition="clinical-date",
               doc="the plan's period, as a range"),
        _param("CarePlan", "condition", "reference", "CarePlan.addresses",
               targets=("Condition",), doc="Condition/{id} the plan addresses"),
        _param("CarePlan", "goal", "reference", "CarePlan.goal", targets=("Goal",),
               doc="Goal/{id} in the plan"),
        _param("CarePlan", "care-team", "reference", "CarePlan.careTeam",
               targets=("CareTeam",), doc="CareTeam/{id} of the plan"),
        _param("CarePlan", "intent", "token", "CarePlan.intent",
               system="http://hl7.org/fhir/request-intent",
               doc="proposal | plan | order | option"),
        _identifier("CarePlan", "CarePlan.identifier"),
        _param("CarePlan", "activity-code", "token", "CarePlan.activity.detail.code",
               doc="code of an activity's detail"),
    ]


def _goal() -> list[SearchParam]:
    return [
        *_subject("Goal", "Goal.subject"),
        _param("Goal", "lifecycle-status", "token", "Goal.lifecycleStatus",
               system="http://hl7.org/fhir/goal-status",
               doc="proposed | planned | accepted | active | on-hold | completed | cancelled "
                   "| entered-in-error | rejected"),
        _param("Goal", "achievement-status", "token", "Goal.achievementStatus",
               doc="in-progress | improving | worsening | achieved | ..."),
        _param("Goal", "category", "token", "Goal.category", doc="type of goal"),
        _param("Goal", "target-date", "date", "Goal.target.dueDate",
               doc="when a target is due"),
        _param("Goal", "start-date", "date", "Goal.startDate", doc="when the goal starts"),
        _identifier("Goal", "Goal.identifier"),
    ]


def _medication_statement() -> list[SearchParam]:
    return [
        *_subject("MedicationStatement", "MedicationStatement.subject"),
        _param("MedicationStatement", "status", "token", "MedicationStatement.status",
               definition="medications-status",
               system="http://hl7.org/fhir/CodeSystem/medication-statement-status",
               doc="active | completed | entered-in-error | intended | stopped | on-hold | ..."),
        _param("MedicationStatement", "category", "token", "MedicationStatement.category",
               doc="where the medication is expected to be taken"),
        _param("MedicationStatement", "code", "token",
               "MedicationStatement.medicationCodeableConcept",
               "MedicationStatement.medicationReference.resolve().code",
               definition="medications-code",
               doc="the medication's code, e.g. an RxNorm RXCUI (also a contained "
                   "Medication's)"),
        _param("MedicationStatement", "effective", "date",
               "MedicationStatement.effectiveDateTime", "MedicationStatement.effectivePeriod",
               doc="when it is or was taken, as a range"),
        _param("MedicationStatement", "source", "reference",
               "MedicationStatement.informationSource", doc="who reported it"),
        _identifier("MedicationStatement", "MedicationStatement.identifier"),
    ]


def _questionnaire() -> list[SearchParam]:
    publication = "http://hl7.org/fhir/publication-status"
    return [
        _param("Questionnaire", "status", "token", "Questionnaire.status", system=publication,
               doc="draft | active | retired | unknown"),
        _param("Questionnaire", "code", "token", "Questionnaire.item.code",
               doc="a code of a top-level item"),
        _param("Questionnaire", "identifier", "token", "Questionnaire.identifier",
               doc="system|value of a business identifier"),
        _param("Questionnaire", "date", "date", "Questionnaire.date",
               doc="publication date"),
        _param("Questionnaire", "name", "string", "Questionnaire.name",
               doc="computable name; starts with, case and accents ignored"),
        _param("Questionnaire", "title", "string", "Questionnaire.title",
               doc="human title; starts with, case and accents ignored"),
        _param("Questionnaire", "url", "uri", "Questionnaire.url", doc="canonical URL, exact"),
        _param("Questionnaire", "version", "token", "Questionnaire.version",
               doc="business version"),
    ]


def _questionnaire_response() -> list[SearchParam]:
    return [
        *_subject("QuestionnaireResponse", "QuestionnaireResponse.subject",
                  patient_definition="QuestionnaireResponse-patient"),
        _param("QuestionnaireResponse", "status", "token", "QuestionnaireResponse.status",
               system="http://hl7.org/fhir/questionnaire-answers-status",
               doc="in-progress | completed | amended | entered-in-error | stopped"),
        _param("QuestionnaireResponse", "questionnaire", "reference",
               "QuestionnaireResponse.questionnaire", targets=("Questionnaire",),
               doc="the Questionnaire answered (its canonical URL or Questionnaire/{id})"),
        _param("QuestionnaireResponse", "authored", "date", "QuestionnaireResponse.authored",
               doc="when it was answered"),
        _param("QuestionnaireResponse", "identifier", "token",
               "QuestionnaireResponse.identifier", doc="system|value of its identifier"),
    ]


def _communication() -> list[SearchParam]:
    return [
        *_subject("Communication", "Communication.subject",
                  patient_definition="Communication-patient"),
        _param("Communication", "status", "token", "Communication.status",
               system="http://hl7.org/fhir/event-status",
               doc="preparation | in-progress | not-done | on-hold | stopped | completed | ..."),
        _param("Communication", "category", "token", "Communication.category",
               doc="message category"),
        _param("Communication", "sent", "date", "Communication.sent", doc="when it was sent"),
        _param("Communication", "identifier", "token", "Communication.identifier",
               doc="system|value of a business identifier"),
    ]


def _task() -> list[SearchParam]:
    return [
        *_subject("Task", "Task.for", patient_definition="Task-patient"),
        _param("Task", "status", "token", "Task.status", system="http://hl7.org/fhir/task-status",
               doc="draft | requested | received | accepted | ... | completed"),
        _param("Task", "code", "token", "Task.code", doc="task type"),
        _param("Task", "identifier", "token", "Task.identifier",
               doc="system|value of a business identifier"),
        _param("Task", "authored-on", "date", "Task.authoredOn", doc="when it was created"),
        _param("Task", "owner", "reference", "Task.owner", doc="who is to do it"),
        _param("Task", "focus", "reference", "Task.focus", doc="what the task acts on"),
    ]


def _subscription() -> list[SearchParam]:
    return [
        _param("Subscription", "status", "token", "Subscription.status",
               system="http://hl7.org/fhir/subscription-status",
               doc="requested | active | error | off"),
        _param("Subscription", "url", "uri", "Subscription.channel.endpoint",
               doc="the endpoint notified, exact"),
        _param("Subscription", "type", "token", "Subscription.channel.type",
               system="http://hl7.org/fhir/subscription-channel-type",
               doc="rest-hook | websocket | email | sms | message"),
    ]


def _service_request() -> list[SearchParam]:
    return [
        *_subject("ServiceRequest", "ServiceRequest.subject"),
        _param("ServiceRequest", "status", "token", "ServiceRequest.status",
               system="http://hl7.org/fhir/request-status",
               doc="draft | active | on-hold | revoked | completed | entered-in-error | unknown"),
        _param("ServiceRequest", "intent", "token", "ServiceRequest.intent",
               system="http://hl7.org/fhir/request-intent", doc="proposal | plan | order | ..."),
        _param("ServiceRequest", "code", "token", "ServiceRequest.code",
               definition="clinical-code", doc="what is being requested"),
        _param("ServiceRequest", "based-on", "reference", "ServiceRequest.basedOn",
               doc="CarePlan/{id} (or another request) it fulfils"),
        _param("ServiceRequest", "authored", "date", "ServiceRequest.authoredOn",
               doc="when it was signed"),
        _identifier("ServiceRequest", "ServiceRequest.identifier"),
    ]


def _table(*groups: list[SearchParam]) -> dict[str, dict[str, SearchParam]]:
    table: dict[str, dict[str, SearchParam]] = {}
    for group in groups:
        for param in group:
            resource_type = param.paths[0].split(".", 1)[0]
            table.setdefault(resource_type, {})[param.name] = param
    return table


# resource type -> parameter name -> parameter
PARAMS: dict[str, dict[str, SearchParam]] = _table(
    _patient(), _practitioner(), _care_team(), _care_plan(), _goal(),
    _medication_statement(), _questionnaire(), _questionnaire_response(), _communication(),
    _task(), _subscription(), _service_request(),
)

# What the resource store serves by read, vread, history and search.
STORED_TYPES: frozenset[str] = frozenset(PARAMS)

# Parameters every type answers to, from the resource's own row rather than the index.
COMMON: dict[str, SearchParam] = {
    "_id": SearchParam(name="_id", type="token", paths=(), definition=f"{HL7}/Resource-id",
                       documentation="the resource id; comma-separated for any of several"),
    "_lastUpdated": SearchParam(
        name="_lastUpdated", type="date", paths=(), definition=f"{HL7}/Resource-lastUpdated",
        documentation="when the current version was written, with prefixes",
    ),
}


def for_type(resource_type: str) -> dict[str, SearchParam]:
    """The parameters of one type, the common ones included."""
    return {**COMMON, **PARAMS.get(resource_type, {})}


def includable(resource_type: str) -> list[SearchParam]:
    """What `_include=Type:param` may follow: the type's reference parameters."""
    return [p for p in PARAMS.get(resource_type, {}).values() if p.type == "reference"]


# AuditEvent is served from the audit trail, not the store: its parameters are answered
# by fhir.store.audit_events over that table's columns.
AUDIT_EVENT_PARAMS: dict[str, SearchParam] = {p.name: p for p in [
    _param("AuditEvent", "patient", "reference", "AuditEvent.entity.what",
           targets=("Patient",), doc="Patient/{id} whose data was touched"),
    _param("AuditEvent", "date", "date", "AuditEvent.recorded",
           doc="when it happened, with prefixes"),
    _param("AuditEvent", "action", "token", "AuditEvent.action",
           system="http://hl7.org/fhir/audit-event-action", doc="C | R | U | D | E"),
    _param("AuditEvent", "type", "token", "AuditEvent.type",
           doc="always http://terminology.hl7.org/CodeSystem/audit-event-type|rest"),
    _param("AuditEvent", "subtype", "token", "AuditEvent.subtype",
           doc="the interaction: read | vread | create | update | delete | search-type | ..."),
    _param("AuditEvent", "entity-type", "token", "AuditEvent.entity.type",
           doc="the resource type touched, e.g. CarePlan"),
    _param("AuditEvent", "entity", "reference", "AuditEvent.entity.what",
           doc="Type/{id} touched"),
    _param("AuditEvent", "agent", "reference", "AuditEvent.agent.who",
           targets=("Practitioner",), doc="Practitioner/{staff id} who acted"),
    _param("AuditEvent", "address", "string", "AuditEvent.agent.network.address",
           doc="the network address it came from, exact"),
]}

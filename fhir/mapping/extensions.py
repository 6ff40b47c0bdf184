"""Canonical URLs of Concord's own extensions, defined under the server's base."""

from __future__ import annotations

EXTENSION_BASE = "https://concord.invalid/fhir/StructureDefinition"

WHAT_MATTERS = f"{EXTENSION_BASE}/what-matters"
HEALTH_CONCERN = f"{EXTENSION_BASE}/health-concern"
GAS_LEVELS = f"{EXTENSION_BASE}/gas-levels"
GAS_WEIGHT = f"{EXTENSION_BASE}/gas-weight"
REVIEW_CADENCE = f"{EXTENSION_BASE}/review-cadence"
NEXT_REVIEW = f"{EXTENSION_BASE}/next-review-date"
OWNING_DISCIPLINE = f"{EXTENSION_BASE}/owning-discipline"
ACTIVITY_STATUS = f"{EXTENSION_BASE}/activity-status"
# On a Subscription: the top-level elements whose change is worth a notification
# (valueString, repeated); the shared secret its notifications are signed with (write
# only, never served back); and how delivery is going (attempts, last delivered).
SUBSCRIPTION_ELEMENTS = f"{EXTENSION_BASE}/subscription-elements"
SUBSCRIPTION_SECRET = f"{EXTENSION_BASE}/subscription-secret"
SUBSCRIPTION_DELIVERY = f"{EXTENSION_BASE}/subscription-delivery"
# The HL7 core extension for who accepts a goal (used by the MCC eCare Plan IG).
GOAL_ACCEPTANCE = "http://hl7.org/fhir/StructureDefinition/goal-acceptance"

ALL = (
    WHAT_MATTERS,
    HEALTH_CONCERN,
    GAS_LEVELS,
    GAS_WEIGHT,
    REVIEW_CADENCE,
    NEXT_REVIEW,
    OWNING_DISCIPLINE,
    ACTIVITY_STATUS,
    SUBSCRIPTION_ELEMENTS,
    SUBSCRIPTION_SECRET,
    SUBSCRIPTION_DELIVERY,
)

# Concord's own code systems sit beside its extensions: .../fhir/CodeSystem/<name>.
CODE_SYSTEM_BASE = EXTENSION_BASE.removesuffix("/StructureDefinition") + "/CodeSystem"
TASK_KIND = f"{CODE_SYSTEM_BASE}/task-kind"
# A QuestionnaireResponse's scores as Concord computed them (one sub-extension per score,
# named as the domain names it: `total`, `goal`, `mean`...), and for an alliance
# questionnaire the clinician whose relationship the patient rated.
QUESTIONNAIRE_SCORES = f"{EXTENSION_BASE}/questionnaire-scores"
ALLIANCE_CLINICIAN = f"{EXTENSION_BASE}/alliance-clinician"
RESPONSE_EXTENSIONS = (QUESTIONNAIRE_SCORES, ALLIANCE_CLINICIAN)

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
)

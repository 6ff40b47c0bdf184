"""SMART scopes, v1 and v2: parsing, what a client is granted, and what a token permits."""

from __future__ import annotations

import uuid

import pytest

from domain.actor import Actor
from domain.errors import Forbidden, Invalid
from domain.scopes import Operation, grant, parse, parse_granted, parse_system_scopes, render
from domain.vocab import NON_CLINICAL_DISCIPLINE, Role
from fhir.api.scopes import require


def system_actor(scopes: str | None) -> Actor:
    return Actor(clinic_id=uuid.uuid4(), staff_id=uuid.uuid4(), role=Role.COORDINATOR,
                 discipline=NON_CLINICAL_DISCIPLINE,
                 scopes=None if scopes is None else parse_granted(scopes))


# -- parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "resource_type", "permissions"), [
    ("system/CarePlan.read", "CarePlan", "rs"),
    ("system/CarePlan.write", "CarePlan", "cud"),
    ("system/CarePlan.*", "CarePlan", "cruds"),
    ("system/*.read", "*", "rs"),
    ("system/CarePlan.cruds", "CarePlan", "cruds"),
    ("system/Goal.rs", "Goal", "rs"),
    ("system/Goal.s", "Goal", "s"),
    ("system/*.cud", "*", "cud"),
    ("patient/Observation.rs", "Observation", "rs"),
])
def test_v1_and_v2_scopes_parse_to_the_same_permissions(
        text: str, resource_type: str, permissions: str) -> None:
    scope = parse(text)
    assert (scope.resource_type, scope.permissions) == (resource_type, permissions)
    assert str(scope) == text  # answered in the syntax it was asked in


@pytest.mark.parametrize("text", [
    "system/CarePlan.rc",          # v2 letters out of order
    "system/CarePlan.rr",          # repeated
    "system/CarePlan.",            # none
    "system/CarePlan.x",
    "system/careplan.rs",          # not a resource type
    "system/CarePlan",
    "clinic/CarePlan.rs",
    "openid",
    "launch",
    "system/CarePlan.read.write",
    "",
])
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(Invalid):
        parse(text)


def test_v2_scopes_with_query_parameters_are_refused() -> None:
    with pytest.raises(Invalid, match="query parameters"):
        parse("system/Observation.rs?category=laboratory")


def test_a_registration_takes_system_scopes_only_and_names_the_bad_one() -> None:
    assert render(parse_system_scopes("system/CarePlan.rs  system/*.read")) == (
        "system/CarePlan.rs system/*.read")
    with pytest.raises(Invalid, match=r"patient/Patient\.rs") as caught:
        parse_system_scopes("system/CarePlan.rs patient/Patient.rs")
    assert caught.value.field == "scopes"
    with pytest.raises(Invalid, match="query"):
        parse_system_scopes("system/Observation.rs?category=vital-signs")
    with pytest.raises(Invalid):
        parse_system_scopes("   ")


# -- granting: requested ∩ allowed -----------------------------------------------------------

@pytest.mark.parametrize(("requested", "allowed", "granted"), [
    ("system/CarePlan.rs", "system/*.cruds", "system/CarePlan.rs"),
    ("system/*.rs", "system/CarePlan.cruds", "system/CarePlan.rs"),
    ("system/*.cruds", "system/*.rs", "system/*.rs"),
    ("system/*.read", "system/CarePlan.rs system/Goal.cruds",
     "system/CarePlan.read system/Goal.read"),
    # v1 kept where the permissions are a v1 word; v2 letters where they are not
    ("system/*.*", "system/Goal.rs", "system/Goal.read"),
    ("system/*.write", "system/Goal.cruds", "system/Goal.write"),
    ("system/*.write", "system/Goal.cu", "system/Goal.cu"),
    # what is not granted is left out, not refused
    ("openid system/Goal.rs patient/Goal.rs system/Goal.rs?status=active", "system/*.rs",
     "system/Goal.rs"),
    ("system/CarePlan.rs system/CarePlan.rs", "system/*.rs", "system/CarePlan.rs"),
    ("system/Patient.rs", "system/CarePlan.rs", ""),
    ("system/CarePlan.c", "system/CarePlan.rs", ""),
    ("patient/*.rs", "system/*.rs", ""),
])
def test_granted_is_requested_intersected_with_allowed(
        requested: str, allowed: str, granted: str) -> None:
    assert render(grant(requested, parse_system_scopes(allowed))) == granted


# -- enforcement -----------------------------------------------------------------------------

ALL: tuple[Operation, ...] = ("c", "r", "u", "d", "s")


@pytest.mark.parametrize(("scopes", "resource_type", "permitted"), [
    ("system/CarePlan.read", "CarePlan", "rs"),
    ("system/CarePlan.write", "CarePlan", "cud"),
    ("system/CarePlan.*", "CarePlan", "cruds"),
    ("system/CarePlan.read", "Goal", ""),
    ("system/*.read", "Goal", "rs"),
    ("system/*.write", "Patient", "cud"),
    ("system/CarePlan.rs", "CarePlan", "rs"),
    ("system/CarePlan.cu", "CarePlan", "cu"),
    ("system/CarePlan.r", "CarePlan", "r"),
    ("system/CarePlan.s", "CarePlan", "s"),
    ("system/CarePlan.d", "CarePlan", "d"),
    ("system/CarePlan.rs system/Goal.cruds", "Goal", "cruds"),
    ("system/*.cruds", "MedicationStatement", "cruds"),
    # a patient's or a user's scope is not the system's to use
    ("patient/CarePlan.cruds", "CarePlan", ""),
])
def test_require_permits_exactly_the_granted_interactions(
        scopes: str, resource_type: str, permitted: str) -> None:
    actor = system_actor(scopes)
    for operation in ALL:
        if operation in permitted:
            require(actor, resource_type, operation)
        else:
            with pytest.raises(Forbidden):
                require(actor, resource_type, operation)


def test_staff_tokens_are_limited_by_role_not_by_scopes() -> None:
    actor = system_actor(None)
    for operation in ALL:
        require(actor, "CarePlan", operation)


def test_a_refusal_says_which_scope_would_do() -> None:
    with pytest.raises(Forbidden) as caught:
        require(system_actor("system/CarePlan.rs"), "Goal", "u")
    assert "update on Goal" in caught.value.detail
    assert "system/CarePlan.rs" in caught.value.detail
    assert "system/Goal.u" in caught.value.detail

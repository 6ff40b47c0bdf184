"""Opioid safety as FHIR: the total MME/day is an Observation and each unacknowledged
taper guardrail hit a DetectedIssue implicating the plan; both valid R4 (R4B models)."""

from __future__ import annotations

import datetime as dt
import uuid

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation

from domain.care_plan import CarePlan
from domain.medication import MedicationStatement, Schedule
from domain.opioids.products import OpioidProduct
from domain.opioids.safety import OpioidSafety, summarize
from domain.opioids.taper import Guardrail, GuardrailAcknowledgement, TaperPlan, TaperStep
from domain.vocab import PlanStatus
from fhir.api.capability import capability_statement
from fhir.mapping import opioids as mapping

TODAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)

PRODUCTS = {
    "1049621": OpioidProduct(
        rxcui="1049621",
        name="oxycodone hydrochloride 5 MG Oral Tablet",
        ingredient="oxycodone",
        strength=5,
        strength_unit="mg",
        dose_form="Oral Tablet",
    ),
    "245134": OpioidProduct(
        rxcui="245134",
        name="72 HR fentanyl 0.025 MG/HR Transdermal System",
        ingredient="fentanyl",
        strength=25,
        strength_unit="mcg/h",
        dose_form="Transdermal System",
        transdermal=True,
    ),
}


def _statement(plan: CarePlan, rxcui: str, display: str, unit: str, **kw: object) -> None:
    plan.medications.append(
        MedicationStatement(
            id=uuid.uuid4(),
            care_plan_id=plan.id,
            patient_id=plan.patient_id,
            rxnorm_code=rxcui,
            display=display,
            dose_quantity=1,
            dose_unit=unit,
            **kw,  # type: ignore[arg-type]
        )
    )


def _plan(*, unknown: bool = False, opioids: bool = True) -> CarePlan:
    plan = CarePlan(
        id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        title="Pain plan",
        status=PlanStatus.ACTIVE,
    )
    if opioids:
        # CDC 2022: oxycodone 5 mg x 4/day x 1.5 = 30; fentanyl 25 mcg/h x 2.4 = 60.
        _statement(
            plan,
            "1049621",
            "oxycodone hydrochloride 5 MG Oral Tablet",
            "tablet",
            schedule=Schedule(count=4),
        )
        _statement(
            plan,
            "245134",
            "72 HR fentanyl 0.025 MG/HR Transdermal System",
            "patch",
            route="transdermal",
            schedule=Schedule(count=1, period=72, unit="h"),
        )
    if unknown:
        _statement(plan, "99999999", "oxycodone 7 mg compounded capsule", "capsule")
    return plan


def _safety(plan: CarePlan) -> OpioidSafety:
    return summarize(plan, PRODUCTS.get, TODAY)


def _with_fast_taper(plan: CarePlan) -> TaperPlan:
    """90 MME/day halved in a week and stopped the next: too fast at both steps,
    abrupt at the second, and no shared decision."""
    start = TODAY + dt.timedelta(days=7)
    taper = TaperPlan(
        id=uuid.uuid4(),
        care_plan_id=plan.id,
        original_daily_mme=90,
        opioid_since=start - dt.timedelta(days=3 * 365),
        starts_on=start,
        medication_statement_ids=[m.id for m in plan.medications],
        steps=[
            TaperStep(date=start, daily_mme=45),
            TaperStep(date=start + dt.timedelta(days=7), daily_mme=0),
        ],
    )
    plan.tapers.append(taper)
    return taper


def test_total_mme_is_a_final_therapy_observation_of_the_patient_based_on_the_plan() -> None:
    plan = _plan()
    safety = _safety(plan)
    body = mapping.mme_observation(plan, safety, NOW)
    resource = Observation.model_validate(body)
    assert resource.id == f"mme-{plan.id}" and len(resource.id) <= 64
    assert mapping.plan_of_observation(resource.id) == plan.id
    assert resource.status == "final"
    assert resource.category[0].coding[0].code == "therapy"
    assert resource.category[0].coding[0].system == mapping.OBSERVATION_CATEGORY
    assert resource.code.coding[0].system == mapping.OPIOID_SAFETY
    assert resource.code.coding[0].code == "total-mme-per-day"
    assert all(c.system != "http://loinc.org" for c in resource.code.coding)
    assert resource.subject.reference == f"Patient/{plan.patient_id}"
    assert resource.basedOn[0].reference == f"CarePlan/{plan.id}"
    assert body["effectiveDateTime"] == NOW.isoformat()
    value = resource.valueQuantity
    assert value.value == 90
    assert value.comparator is None
    assert (value.unit, value.system, value.code) == (
        "MME/day",
        "http://unitsofmeasure.org",
        "{MME}/d",
    )
    assert [i.coding[0].code for i in resource.interpretation] == [
        "mme-threshold-50",
        "mme-threshold-90",
    ]
    assert resource.interpretation[0].text == safety.total.thresholds_crossed[0].advice
    assert resource.note[0].text == safety.total.summary
    assert sorted(c["valueQuantity"]["value"] for c in body["component"]) == [30, 60]
    assert {c.code.text for c in resource.component} == {m.display for m in plan.medications}


def test_a_lower_bound_stays_final_says_at_least_and_names_what_was_not_counted() -> None:
    plan = _plan(unknown=True)
    safety = _safety(plan)
    assert safety.total.is_lower_bound
    resource = Observation.model_validate(mapping.mme_observation(plan, safety, NOW))
    assert resource.status == "final"
    assert resource.valueQuantity.comparator == ">="
    assert resource.valueQuantity.value == 90
    assert resource.note[0].text.startswith("at least 90 MME/day")
    absent = [c for c in resource.component if c.dataAbsentReason is not None]
    assert len(absent) == 1
    assert absent[0].valueQuantity is None
    assert absent[0].dataAbsentReason.coding[0].code == "unknown"
    assert absent[0].dataAbsentReason.text == safety.total.unknown[0].unknown_reason
    assert absent[0].code.text == "oxycodone 7 mg compounded capsule"


def test_no_opioids_is_zero_without_thresholds_or_components() -> None:
    plan = _plan(opioids=False)
    body = mapping.mme_observation(plan, _safety(plan), NOW)
    resource = Observation.model_validate(body)
    assert resource.valueQuantity.value == 0
    assert "interpretation" not in body and "component" not in body


def test_each_unacknowledged_hit_is_a_preliminary_detected_issue_implicating_the_plan() -> None:
    plan = _plan()
    taper = _with_fast_taper(plan)
    safety = _safety(plan)
    hits = safety.tapers[0].unacknowledged
    assert [(h.kind, h.step_index) for h in hits] == [
        (Guardrail.TOO_FAST, 0),
        (Guardrail.TOO_FAST, 1),
        (Guardrail.ABRUPT_DISCONTINUATION, 1),
        (Guardrail.NO_SHARED_DECISION, None),
    ]
    bodies = mapping.detected_issues(plan, safety, TODAY)
    issues = [DetectedIssue.model_validate(b) for b in bodies]
    assert [i.detail for i in issues] == [h.reason for h in hits]
    assert len({i.id for i in issues}) == 4
    for body, issue, hit in zip(bodies, issues, hits, strict=True):
        assert len(body["id"]) <= 64 and mapping.plan_of_detected_issue(body["id"]) == plan.id
        assert issue.status == "preliminary"
        assert issue.patient.reference == f"Patient/{plan.patient_id}"
        assert [r.reference for r in issue.implicated] == [f"CarePlan/{plan.id}"]
        assert issue.identifiedDateTime == TODAY
        assert issue.reference == mapping.CDC_2022_URL
        codes = {(c.system, c.code) for c in issue.code.coding}
        assert (mapping.OPIOID_SAFETY, f"taper-{hit.kind.value}") in codes
        dosage = hit.kind is not Guardrail.NO_SHARED_DECISION
        assert ((mapping.V3_ACT_CODE, "DOSE") in codes) is dosage
        assert issue.severity == (
            "high" if hit.kind is Guardrail.ABRUPT_DISCONTINUATION else "moderate"
        )
        (guardrail,) = issue.extension or []
        assert guardrail.url == mapping.TAPER_GUARDRAIL
        parts = {e.url: e for e in guardrail.extension}
        assert parts["taper"].valueIdentifier.value == f"urn:uuid:{taper.id}"
        assert parts["kind"].valueCode == hit.kind.value
        if hit.step_index is None:
            assert "step-index" not in parts and "step-date" not in parts
        else:
            assert parts["step-index"].valueInteger == hit.step_index
            assert parts["step-date"].valueDate == hit.step_date
    assert mapping.detected_issues(plan, _safety(plan), TODAY) == bodies, "ids are stable"


def test_an_acknowledged_hit_is_no_longer_an_issue() -> None:
    plan = _plan()
    taper = _with_fast_taper(plan)
    taper.acknowledge(
        GuardrailAcknowledgement(
            kind=Guardrail.ABRUPT_DISCONTINUATION,
            step_index=1,
            reason="Overdose warning signs: stopping now",
            by=uuid.uuid4(),
            at=NOW,
        )
    )
    issues = mapping.detected_issues(plan, _safety(plan), TODAY)
    kinds = [i["extension"][0]["extension"][1]["valueCode"] for i in issues]
    assert kinds == ["too-fast", "too-fast", "no-shared-decision"]


def test_ids_that_are_not_ours_name_no_plan() -> None:
    plan_id = uuid.uuid4()
    assert mapping.plan_of_observation(f"mme-{plan_id}") == plan_id
    for other in ("mme-x", f"pain-{plan_id}", f"mme-{plan_id}-1", "", f"MME-{plan_id}"):
        assert mapping.plan_of_observation(other) is None
    for other in ("taper-1", f"taper-{plan_id}-0123456789abcdef", f"taper-{plan_id.hex}"):
        assert mapping.plan_of_detected_issue(other) is None


def test_capability_statement_lists_the_opioid_resources_and_the_search() -> None:
    body = capability_statement("https://concord.example/fhir")
    statement = CapabilityStatement.model_validate(body)
    served = {
        r.type: ([i.code for i in r.interaction], [p.name for p in r.searchParam or []])
        for r in statement.rest[0].resource
    }
    assert served["Observation"] == (["read"], [])
    assert served["DetectedIssue"] == (["read", "search-type"], ["implicated"])
    defined = {e.valueUri for e in statement.extension}
    assert mapping.TAPER_GUARDRAIL in defined

"""What a Subscription may ask for, and what its criteria match: classic R4 criteria and
the backport's filters matched through the search index's own entries, the element
filter, and every refused input naming its FHIRPath."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from domain.errors import Invalid
from fhir.mapping import extensions as ext
from fhir.subscriptions import topics
from fhir.subscriptions.criteria import Criteria, parse
from fhir.subscriptions.registry import read

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
BASE = "https://concord.example/fhir"


def plan(**changes: Any) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "id": "p1", "status": "active", "intent": "plan",
            "subject": {"reference": "Patient/123"},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "38717003"}]}],
            **changes}


def statement(**changes: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": "m1", "status": "active",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1049621"}]},
            "subject": {"reference": "Patient/123"},
            "effectiveDateTime": "2026-01-01", **changes}


class TestCriteria:
    @pytest.mark.parametrize(("criteria", "resource", "expected"), [
        ("CarePlan", plan(), True),
        ("CarePlan?patient=Patient/123", plan(), True),
        ("CarePlan?patient=123", plan(), True),
        ("CarePlan?patient=Patient/456", plan(), False),
        ("CarePlan?subject=Patient/123&status=active", plan(), True),
        ("CarePlan?patient=Patient/123&status=completed", plan(), False),
        ("CarePlan?status=draft,active", plan(), True),
        ("CarePlan?status=http://hl7.org/fhir/request-status|active", plan(), True),
        ("CarePlan?status=http://example.org/other|active", plan(), False),
        ("CarePlan?category=http://loinc.org|", plan(), True),
        ("CarePlan?category=|38717003", plan(), False),
        ("CarePlan?category=38717003", plan(), True),
        ("CarePlan?_id=p1,p2", plan(), True),
        ("CarePlan?_id=p2", plan(), False),
        ("Goal?patient=Patient/123", plan(), False),
        (f"MedicationStatement?code={RXNORM}|1049621&patient=Patient/123", statement(), True),
        ("MedicationStatement?code=1049622", statement(), False),
        (f"{BASE}/CarePlan?patient=Patient/123", plan(), True),
    ])
    def test_matches_as_the_same_search_would(self, criteria: str, resource: dict[str, Any],
                                              expected: bool) -> None:
        assert parse(criteria, "Subscription.criteria").matches(resource) is expected

    def test_conditions_are_judged_on_the_new_version_and_a_delete_on_the_last(self) -> None:
        criteria = parse("CarePlan?status=active", "f")
        assert criteria.notifies("create", None, plan())
        assert criteria.notifies("update", plan(status="draft"), plan())
        assert not criteria.notifies("update", plan(), plan(status="completed"))
        assert criteria.notifies("delete", plan(), None)
        assert not criteria.notifies("delete", plan(status="revoked"), None)

    def test_the_element_filter_sees_choice_types_and_primitive_extensions(self) -> None:
        chosen = Criteria(resource_type="MedicationStatement", elements=("effective", "status"))
        before = statement()
        assert not chosen.notifies("update", before, statement(dosage=[{"text": "1 daily"}]))
        moved = {k: v for k, v in statement().items() if k != "effectiveDateTime"}
        moved["effectivePeriod"] = {"start": "2026-01-01"}
        assert chosen.notifies("update", before, moved)
        assert chosen.notifies("update", before, statement(
            _status={"extension": [{"url": "https://example.org/why", "valueString": "x"}]}))
        assert chosen.notifies("create", None, statement())
        assert chosen.notifies("delete", before, None)


# -- inputs refused, with the FHIRPath of what is wrong -------------------------------------

def classic(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Subscription", "id": "s1", "status": "requested",
        "reason": "keep the EHR current", "criteria": "CarePlan?patient=Patient/123",
        "channel": {"type": "rest-hook", "endpoint": "https://ehr.example/hook",
                    "payload": "application/fhir+json"},
    }
    resource.update(changes)
    return resource


def backport(filters: tuple[str, ...] = ("CarePlan?patient=Patient/123",),
             content: str | None = "id-only") -> dict[str, Any]:
    resource = classic(criteria=topics.topic_url(BASE, "careplan-changes"))
    resource["_criteria"] = {"extension": [{"url": topics.FILTER_CRITERIA, "valueString": f}
                                           for f in filters]}
    if content is not None:
        resource["channel"]["_payload"] = {"extension": [
            {"url": topics.PAYLOAD_CONTENT, "valueCode": content}]}
    return resource


def _with(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    holder: Any = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


def _extension(url: str, value: Any, key: str = "valueString") -> dict[str, Any]:
    return classic(extension=[{"url": url, key: value}])


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("no type", classic(resourceType="Patient"), "Subscription.resourceType"),
    ("bad id", classic(id="has space"), "Subscription.id"),
    ("unknown status", classic(status="paused"), "Subscription.status"),
    ("no channel", {**classic(), "channel": None}, "Subscription.channel"),
    ("websocket", _with(classic(), ("channel", "type"), "websocket"), "Subscription.channel.type"),
    ("no endpoint", _with(classic(), ("channel", "endpoint"), None),
     "Subscription.channel.endpoint"),
    ("ftp endpoint", _with(classic(), ("channel", "endpoint"), "ftp://ehr.example/x"),
     "Subscription.channel.endpoint"),
    ("relative endpoint", _with(classic(), ("channel", "endpoint"), "/hook"),
     "Subscription.channel.endpoint"),
    ("endpoint with a space", _with(classic(), ("channel", "endpoint"), "https://a b/"),
     "Subscription.channel.endpoint"),
    ("xml payload", _with(classic(), ("channel", "payload"), "application/fhir+xml"),
     "Subscription.channel.payload"),
    ("header without a colon", _with(classic(), ("channel", "header"), ["Authorization"]),
     "Subscription.channel.header[0]"),
    ("header we set", _with(classic(), ("channel", "header"),
                            ["Authorization: Bearer x", "X-Concord-Signature: sha256=0"]),
     "Subscription.channel.header[1]"),
    ("content type header", _with(classic(), ("channel", "header"), ["Content-Type: text/xml"]),
     "Subscription.channel.header[0]"),
    ("header injection", _with(classic(), ("channel", "header"), ["X-A: 1\r\nX-B: 2"]),
     "Subscription.channel.header[0]"),
    ("no criteria", classic(criteria=""), "Subscription.criteria"),
    ("unoffered type", classic(criteria="Observation?code=1234-5"), "Subscription.criteria"),
    ("date parameter", classic(criteria="CarePlan?date=ge2026-01-01"), "Subscription.criteria"),
    ("modifier", classic(criteria="CarePlan?status:not=active"), "Subscription.criteria"),
    ("chain", classic(criteria="CarePlan?patient.name=Rosa"), "Subscription.criteria"),
    ("unknown parameter", classic(criteria="CarePlan?colour=red"), "Subscription.criteria"),
    ("result parameter", classic(criteria="CarePlan?_count=10"), "Subscription.criteria"),
    ("no value", classic(criteria="CarePlan?status="), "Subscription.criteria"),
    ("not a query", classic(criteria="CarePlan?status"), "Subscription.criteria"),
    ("wrong target", classic(criteria="CarePlan?patient=Group/1"), "Subscription.criteria"),
    ("ambiguous bare id", classic(criteria="CarePlan?subject=123"), "Subscription.criteria"),
    ("unknown topic", classic(criteria=f"{BASE}/SubscriptionTopic/encounter-start"),
     "Subscription.criteria"),
    ("filter of another type", backport(("Goal?patient=Patient/1",)),
     "Subscription.criteria.extension[0].valueString"),
    ("bad second filter", backport(("CarePlan?status=active", "CarePlan?date=2026")),
     "Subscription.criteria.extension[1].valueString"),
    ("filter without a topic", {**backport(), "criteria": "CarePlan"},
     "Subscription.criteria.extension[0].valueString"),
    ("unknown content", backport(content="everything"),
     "Subscription.channel.payload.extension[0].valueCode"),
    ("content without payload", _with(backport(content="full-resource"),
                                      ("channel", "payload"), None),
     "Subscription.channel.payload"),
    ("unknown element", _extension(ext.SUBSCRIPTION_ELEMENTS, "colour"),
     "Subscription.extension[0].valueString"),
    ("meta element", _extension(ext.SUBSCRIPTION_ELEMENTS, "meta"),
     "Subscription.extension[0].valueString"),
    ("short secret", _extension(ext.SUBSCRIPTION_SECRET, "hunter2"),
     "Subscription.extension[0].valueString"),
    ("timeout of 0", _with(classic(), ("channel", "extension"),
                           [{"url": topics.TIMEOUT, "valueUnsignedInt": 0}]),
     "Subscription.channel.extension[0].valueUnsignedInt"),
    ("heartbeat of 1 s", _with(classic(), ("channel", "extension"),
                               [{"url": topics.HEARTBEAT_PERIOD, "valueUnsignedInt": 1}]),
     "Subscription.channel.extension[0].valueUnsignedInt"),
    ("end without a zone", classic(end="2030-01-01T00:00:00"), "Subscription.end"),
    ("end not a date", classic(end="next week"), "Subscription.end"),
]


@pytest.mark.parametrize(("resource", "field"), [(r, f) for _, r, f in INVALID],
                         ids=[name for name, _, _ in INVALID])
def test_a_subscription_it_cannot_honour_is_refused_naming_the_field(
        resource: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        read(resource)
    assert caught.value.field == field, caught.value.detail
    assert caught.value.detail


def test_what_it_can_honour_is_read() -> None:
    spec = read(classic(channel={
        "type": "rest-hook", "endpoint": "https://ehr.example:8443/fhir?tenant=7",
        "header": ["Authorization: Bearer abc"],
        "extension": [{"url": topics.TIMEOUT, "valueUnsignedInt": 20}]},
        end="2030-01-01T00:00:00Z",
        extension=[{"url": ext.SUBSCRIPTION_SECRET, "valueString": "x" * 32},
                   {"url": ext.SUBSCRIPTION_ELEMENTS, "valueString": "status"},
                   {"url": ext.SUBSCRIPTION_ELEMENTS, "valueString": "activity"}]))
    assert (spec.status, spec.payload, spec.topic) == ("active", "empty", None)
    assert spec.headers == (("Authorization", "Bearer abc"),)
    assert spec.secret == "x" * 32 and spec.timeout_seconds == 20
    assert spec.criteria.elements == ("status", "activity")
    assert spec.ends_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    topic = read(backport(("CarePlan?patient=Patient/123", "CarePlan?status=active"),
                          content=None))
    assert (topic.topic, topic.payload, topic.payload_defaulted) == (
        f"{BASE}/SubscriptionTopic/careplan-changes", "id-only", True)
    assert topic.criteria.matches(plan()) and not topic.criteria.matches(plan(status="draft"))
    assert read(classic(status="off")).status == "off"

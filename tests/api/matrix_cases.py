"""The case table behind test_auth_matrix.py: every /api/v1 endpoint, a scene of real
resources to point it at, the probes that show a denied write changed nothing, and the
checks every denied answer must pass."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jwt.algorithms import ECAlgorithm
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.message import Channel, Message
from domain.staff import Staff
from domain.vocab import Role
from service.db.uow import unit_of_work
from service.usecases.staff import issue_token
from tests.factories import CLINICIANS, GAS, ClinicWorld
from tests.smart.support import ec_pair

API = "/api/v1"
PROBLEM = "application/problem+json"
STACK_WORDS = ("traceback", "sqlalchemy", "asyncpg")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


# -- the scene: one clinic's real resources, built over the API ---------------------------

@dataclass
class Scene:
    """A clinic with a patient and an active plan (four-discipline team, physician lead),
    a physical therapist's goal and activity, a review, a note, a task, a clinic-defined
    discipline, a live token and a revoked one for the psychologist."""

    world: ClinicWorld
    ids: dict[str, str]
    """Path parameter name -> the id of this scene's resource for it."""
    secrets: dict[str, str]
    """Free text and PHI that must never appear in a denied answer."""
    live_token: str
    revoked_token: str
    custom_discipline: str

    def auth(self, who: str) -> dict[str, str]:
        return self.world.auth(who)

    def path(self, template: str) -> str:
        return _PARAM.sub(lambda m: self.ids[m.group(1)], template)

    @property
    def known_ids(self) -> set[str]:
        staff = {str(s.id) for s in self.world.staff.values()}
        ids = {v for v in self.ids.values() if _is_uuid(v)}  # not path words like `en`
        return {*ids, *staff, str(self.world.id), *self.extra_ids}

    extra_ids: set[str] = field(default_factory=set)
    dead_tokens: dict[str, str] = field(default_factory=dict)
    """Tokens that once worked and no longer do, by why (see add_dead_tokens)."""


async def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, f"scene setup: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def _issue_token(client: Any, engine: AsyncEngine, world: ClinicWorld,
                       label: str) -> dict[str, Any]:
    """A token for the psychologist, issued by the admin over the API. Should the API fail
    to issue it, the scene still gets one through the use case (as the factories do), so
    that the rest of the matrix runs; the endpoint's own failure is then reported by
    test_allowed_actor_succeeds."""
    staff = world.staff["psychologist"]
    response = await client.post(f"{API}/staff/{staff.id}/tokens", headers=world.auth("admin"),
                                 json={"label": label})
    if response.status_code == 201:
        body: dict[str, Any] = response.json()
        return body
    async with unit_of_work(engine) as uow:
        record, secret = await issue_token(uow, world.id, staff, label, None)
    return {"id": str(record.id), "token": secret}


async def build_scene(client: Any, engine: AsyncEngine, world: ClinicWorld) -> Scene:
    tag = uuid.uuid4().hex[:8]
    coordinator, admin = world.auth("coordinator"), world.auth("admin")
    therapist = world.auth("physical_therapist")
    secrets = {
        "given_name": f"Ysolde{tag}", "family_name": f"Marchetti{tag}",
        "birth_date": f"{1930 + int(tag[:4], 16) % 60}-{1 + int(tag[4:6], 16) % 12:02}-"
                      f"{1 + int(tag[6:], 16) % 28:02}",
        "email": f"ysolde.{tag}@example.org",
        "title": f"Neck and shoulder pain plan {tag}",
        "what_matters": f"Dancing at my niece's wedding {tag}",
        "goal": f"Garden for an hour without stopping {tag}",
        "activity": f"Pelvic tilts every morning {tag}",
        "patient_voice": f"I weeded the whole front bed {tag}",
        "note": f"Slept better after the new pillow {tag}",
        "task": f"Call about sleep hygiene {tag}",
        "medication": f"Oxycodone 5 mg tablet {tag}",
        "discipline": f"Chiropractic {tag}",
        "smart_client": f"Lakeside EHR {tag}",
        "ehr_connection": f"Riverside FHIR {tag}",
        "ehr_private_key": EHR_JWK["d"],
    }
    patient = await _ok(await client.post(f"{API}/patients", headers=coordinator, json={
        "given_name": secrets["given_name"], "family_name": secrets["family_name"],
        "birth_date": secrets["birth_date"], "time_zone": "Europe/Rome", "language": "en",
        "contact_points": [{"system": "email", "value": secrets["email"]}],
        "consent_to_messages": True}))
    plan = await _ok(await client.post(f"{API}/care-plans", headers=coordinator, json={
        "patient_id": patient["id"], "title": secrets["title"],
        "what_matters": secrets["what_matters"]}))
    plan_path = f"{API}/care-plans/{plan['id']}"
    members: dict[str, str] = {}
    for who in CLINICIANS:
        member = await _ok(await client.post(f"{plan_path}/team", headers=coordinator, json={
            "staff_id": str(world.staff[who].id), "lead": who == "physician"}))
        members[who] = member["id"]
    current = await client.get(plan_path, headers=coordinator)
    await _ok(await client.post(f"{plan_path}/status", json={"status": "active"},
                                headers={**coordinator, "If-Match": current.headers["etag"]}), 200)
    goal = await _ok(await client.post(f"{plan_path}/goals", headers=therapist, json={
        "description": secrets["goal"], "owners": ["physical_therapist"], "gas": GAS,
        "lifecycle_status": "active"}))
    activity = await _ok(await client.post(f"{plan_path}/activities", headers=therapist, json={
        "kind": "exercise", "description": secrets["activity"], "goal_ids": [goal["id"]]}))
    review = await _ok(await client.post(f"{plan_path}/reviews", headers=therapist, json={
        "entries": [{"goal_id": goal["id"], "level": 0}], "participants": [{"kind": "patient"}],
        "patient_voice": secrets["patient_voice"]}))
    await _ok(await client.post(f"{plan_path}/notes", headers=therapist,
                                json={"text": secrets["note"]}))
    medication = await _ok(await client.post(
        f"{plan_path}/medications", headers=world.auth("physician"), json={
            "rxnorm_code": "1049621", "display": secrets["medication"],
            "dose_quantity": 1, "dose_unit": "tablet",
            "schedule": {"count": 4, "period": 1, "unit": "d"}}))
    taper = await _ok(await client.post(
        f"{plan_path}/tapers", headers=world.auth("physician"), json={
            "opioid_since": "2020-01-01", "starts_on": "2030-01-01",
            "medication_statement_ids": [medication["id"]],
            "steps": [{"date": "2030-01-01", "daily_mme": 27}]}))
    task = await _ok(await client.post(f"{API}/tasks", headers=coordinator, json={
        "title": secrets["task"], "care_plan_id": plan["id"],
        "owner_id": str(world.staff["physical_therapist"].id)}))
    psychologist = str(world.staff["psychologist"].id)
    tokens = f"{API}/staff/{psychologist}/tokens"
    live = await _issue_token(client, engine, world, "live")
    revoked = await _issue_token(client, engine, world, "revoked")
    # The token worked until it was revoked.
    await _ok(await client.get(f"{API}/staff", headers={
        "Authorization": f"Bearer {revoked['token']}"}), 200)
    await _ok(await client.delete(f"{tokens}/{revoked['id']}", headers=admin), 200)
    message = await add_dead_message(engine, world, patient["id"], plan["id"], secrets["email"])
    check_in = await _ok(await client.post(f"{API}/check-ins", headers=coordinator, json={
        "care_plan_id": plan["id"], "due_at": "2030-01-01T15:00:00Z"}))
    custom = f"chiro_{tag}"
    await _ok(await client.post(f"{API}/disciplines", headers=admin,
                                json={"code": custom, "display": secrets["discipline"]}))
    smart_client = await _ok(await client.post(f"{API}/smart-clients", headers=admin, json={
        "name": secrets["smart_client"], "scopes": "system/*.rs", "jwks": SMART_JWKS}))
    ehr_connection = await _ok(await client.post(f"{API}/ehr-connections", headers=admin,
                                                 json=_new_ehr_connection(secrets["ehr_connection"])))
    subscription = await _ok(await client.post(
        "/fhir/Subscription", json=_new_subscription(),
        headers={**admin, "Content-Type": "application/fhir+json"}))
    return Scene(
        world=world,
        ids={"patient_id": patient["id"], "plan_id": plan["id"], "goal_id": goal["id"],
             "activity_id": activity["id"], "task_id": task["id"],
             "medication_id": medication["id"], "taper_id": taper["taper"]["id"],
             "member_id": members["psychologist"], "staff_id": psychologist,
             "token_id": live["id"], "message_id": str(message.id),
             "check_in_id": check_in["id"], "kind": "check-in", "language": "en",
             "name": "wai-sr", "smart_client_id": smart_client["id"],
             "connection_id": ehr_connection["id"], "subscription_id": subscription["id"]},
        secrets=secrets, live_token=live["token"], revoked_token=revoked["token"],
        custom_discipline=custom,
        extra_ids={review["id"], revoked["id"], smart_client["staff_id"], *members.values()})


async def add_dead_message(engine: AsyncEngine, world: ClinicWorld, patient_id: str,
                           plan_id: str | None, recipient: str) -> Message:
    """A check-in e-mail the server refused: written, claimed and declared dead through
    the outbox repository, as the worker would (tests/integration/workers/test_outbox.py
    does it against a real SMTP server)."""
    message = Message(
        id=uuid.uuid4(), clinic_id=world.id, patient_id=uuid.UUID(patient_id),
        care_plan_id=uuid.UUID(plan_id) if plan_id else None, kind="check-in",
        channel=Channel.EMAIL, recipient=recipient, subject="How are we doing together?",
        body_text="Five short questions about our work together.",
        idempotency_key=f"check-in:{plan_id}:{uuid.uuid4().hex}")
    async with unit_of_work(engine) as uow:
        assert await uow.messages.enqueue(message)
        claimed = await uow.messages.claim_one(message.id, dt.timedelta(minutes=1))
        assert claimed is not None
        assert await uow.messages.mark_dead(message.id, claimed.attempts,
                                            "SMTPRecipientsRefused 550")
    return message


async def add_dead_tokens(client: Any, engine: AsyncEngine, scene: Scene) -> None:
    """Beside the revoked token: one that has expired, and one of a staff member who has
    since been deactivated. Each worked before it died."""
    world, tag = scene.world, uuid.uuid4().hex[:8]
    leaver = Staff(id=uuid.uuid4(), clinic_id=world.id, name=f"Leaver {tag}",
                   discipline="physician", role=Role.CLINICIAN)
    async with unit_of_work(engine) as uow:
        await uow.staff.add(leaver)
        _, expired = await issue_token(uow, world.id, world.staff["psychologist"], "expired",
                                       dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
        _, inactive = await issue_token(uow, world.id, leaver, "leaver", None)
    for token in (expired, inactive):
        await _ok(await client.get(f"{API}/staff", headers={
            "Authorization": f"Bearer {token}"}), 200)
    current = await client.get(f"{API}/staff/{leaver.id}", headers=world.auth("admin"))
    await _ok(await client.patch(f"{API}/staff/{leaver.id}", json={"active": False}, headers={
        **world.auth("admin"), "If-Match": current.headers["etag"]}), 200)
    await asyncio.sleep(2.5)
    scene.dead_tokens.update({"expired-token": expired, "deactivated-staff-token": inactive,
                              "revoked-token": scene.revoked_token})
    scene.secrets["leaver"] = leaver.name
    scene.extra_ids.add(str(leaver.id))


# -- probes: reads by an allowed user that show whether a write happened -------------------

PROBES: dict[str, tuple[str, str | None]] = {
    # name: (path template, the member to pick out of a list answer by its `member_id`)
    "patient": (f"{API}/patients/{{patient_id}}", None),
    "patients": (f"{API}/patients?limit=100", None),
    "plan": (f"{API}/care-plans/{{plan_id}}", None),
    "plans": (f"{API}/care-plans?limit=100", None),
    "member": (f"{API}/care-plans/{{plan_id}}/team", "member_id"),
    "goal": (f"{API}/care-plans/{{plan_id}}/goals/{{goal_id}}", None),
    "activity": (f"{API}/care-plans/{{plan_id}}/activities/{{activity_id}}", None),
    "reviews": (f"{API}/care-plans/{{plan_id}}/reviews", None),
    "medication": (f"{API}/care-plans/{{plan_id}}/medications/{{medication_id}}", None),
    "taper": (f"{API}/care-plans/{{plan_id}}/tapers/{{taper_id}}", None),
    "staff_member": (f"{API}/staff/{{staff_id}}", None),
    "staff": (f"{API}/staff?limit=100", None),
    "tokens": (f"{API}/staff/{{staff_id}}/tokens", None),
    "disciplines": (f"{API}/disciplines", None),
    "task": (f"{API}/tasks/{{task_id}}", None),
    "tasks": (f"{API}/tasks?limit=100", None),
    "message": (f"{API}/messages/{{message_id}}", None),
    "questionnaires": (f"{API}/questionnaires", None),
    "clinic_settings": (f"{API}/clinic-settings", None),
    "smart_client": (f"{API}/smart-clients/{{smart_client_id}}", None),
    "smart_clients": (f"{API}/smart-clients", None),
    "ehr_connection": (f"{API}/ehr-connections/{{connection_id}}", None),
    "ehr_connections": (f"{API}/ehr-connections", None),
}


@dataclass(frozen=True)
class Snapshot:
    status: int
    etag: str | None
    body: Any


async def probe(client: Any, scene: Scene, name: str) -> Snapshot:
    """Read `name` as the clinic's admin, who may see everything."""
    template, pick = PROBES[name]
    response = await client.get(scene.path(template), headers=scene.auth("admin"))
    assert response.status_code == 200, f"probe {name}: {response.status_code} {response.text}"
    body = response.json()
    if pick is not None:
        body = next(item for item in body if item["id"] == scene.ids[pick])
        return Snapshot(200, body["etag"], body)
    return Snapshot(200, response.headers.get("etag"), body)


# -- the endpoints ---------------------------------------------------------------------------

Body = Callable[[Scene], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    """As Litestar names the route, e.g. /api/v1/care-plans/{plan_id:uuid}."""
    body: Body | None = None
    """A body that the allowed actor's request would succeed with."""
    if_match: str | None = None
    """The probe whose ETag the request sends as If-Match (the current one)."""
    probes: tuple[str, ...] = ()
    """What a denied write must leave unchanged."""
    plan_scoped: bool = False
    """Answers 404 to a clinician who is not on the plan's team."""
    allowed_as: str = "admin"
    success: int = 200

    @property
    def id(self) -> str:
        path = self.template.removeprefix(API).replace(":uuid", "").replace(":str", "")
        return f"{self.method} {path}"

    @property
    def has_path_ids(self) -> bool:
        return ":uuid}" in self.template

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD")


def own_questionnaire(url: str = "https://clinic.example/fhir/Questionnaire/sleep",
                      name: str = "SleepCheck", *, requires_permission: bool = False,
                      **changes: Any) -> dict[str, Any]:
    """A clinic's own FHIR R4 Questionnaire that `parse_questionnaire` accepts."""
    return {
        "resourceType": "Questionnaire", "url": url, "version": "1", "name": name,
        "title": "How did you sleep?", "status": "active",
        "copyright": "Written by the clinic; free to use within it.",
        "extension": [{"url": "https://concord.invalid/fhir/StructureDefinition/"
                              "instrument-requires-permission",
                       "valueBoolean": requires_permission}],
        "item": [{"linkId": "sleep", "type": "choice", "text": "How well did you sleep?",
                  "answerOption": [
                      {"valueCoding": {"code": str(v), "display": label}, "extension": [
                          {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                           "valueDecimal": v}]}
                      for v, label in ((0, "Badly"), (1, "So-so"), (2, "Well"))]}],
        **changes,
    }


def wai_sr_texts() -> dict[str, str]:
    """Stand-ins for a clinic's licensed WAI-SR wording (the real texts are not shipped)."""
    return {str(n): f"Statement {n} from the clinic's licensed copy" for n in range(1, 13)}


def _new_subscription() -> dict[str, Any]:
    """The clinic's EHR's Subscription to its care plans, switched off: the matrix never
    delivers anything."""
    return {"resourceType": "Subscription", "status": "off", "reason": "Keep the EHR current",
            "criteria": "CarePlan?status=active",
            "channel": {"type": "rest-hook", "endpoint": "https://ehr.example.org/hook"}}


def _new_patient(scene: Scene) -> dict[str, Any]:
    return {"given_name": "Imogen", "family_name": "Quist", "birth_date": "1980-01-02"}


SMART_JWKS = ec_pair("matrix").jwks
"""A SMART client's public key set (an EC P-384 key, as an EHR would register)."""
EHR_JWK = {**ECAlgorithm.to_jwk(ec_pair("ehr").private_key, as_dict=True), "kid": "concord-1"}
"""The private key Concord signs in to a clinic's EHR with."""


def _new_ehr_connection(name: str = "Riverside FHIR") -> dict[str, Any]:
    return {"name": name, "base_url": "https://ehr.example.org/fhir/R4",
            "token_url": "https://ehr.example.org/oauth2/token", "client_id": "concord",
            "private_key": EHR_JWK, "identifier_system": "urn:oid:1.2.36.146.595.217.0.1"}


P = f"{API}/patients/{{patient_id:uuid}}"
S = f"{API}/staff/{{staff_id:uuid}}"
C = f"{API}/care-plans/{{plan_id:uuid}}"

ENDPOINTS: list[Endpoint] = [
    # patients
    Endpoint("POST", f"{API}/patients", _new_patient, probes=("patients",), success=201),
    Endpoint("GET", f"{API}/patients"),
    Endpoint("GET", P, plan_scoped=True),
    Endpoint("PATCH", P, lambda s: {"family_name": "Changed"}, if_match="patient",
             probes=("patient",), plan_scoped=True),
    # staff, tokens, disciplines
    Endpoint("POST", f"{API}/staff", lambda s: {"name": "New Hire", "discipline": "physician"},
             probes=("staff",), success=201),
    Endpoint("GET", f"{API}/staff"),
    Endpoint("GET", S),
    Endpoint("PATCH", S, lambda s: {"name": "Renamed Person"}, if_match="staff_member",
             probes=("staff_member",)),
    Endpoint("POST", f"{S}/tokens", lambda s: {"label": "laptop"}, probes=("tokens",),
             success=201),
    Endpoint("GET", f"{S}/tokens"),
    Endpoint("DELETE", f"{S}/tokens/{{token_id:uuid}}", probes=("tokens",)),
    Endpoint("POST", f"{API}/disciplines", lambda s: {"code": "massage", "display": "Massage"},
             probes=("disciplines",), success=201),
    Endpoint("GET", f"{API}/disciplines"),
    # care plans
    Endpoint("POST", f"{API}/care-plans",
             lambda s: {"patient_id": s.ids["patient_id"], "title": "Second plan"},
             probes=("plans",), success=201),
    Endpoint("GET", f"{API}/care-plans"),
    Endpoint("GET", C, plan_scoped=True),
    Endpoint("PATCH", C, lambda s: {"title": "Retitled"}, if_match="plan", probes=("plan",),
             plan_scoped=True),
    Endpoint("POST", f"{C}/status", lambda s: {"status": "on-hold"}, if_match="plan",
             probes=("plan",), plan_scoped=True),
    Endpoint("POST", f"{C}/notes", lambda s: {"text": "A new note"}, probes=("plan",),
             plan_scoped=True, success=201),
    # team
    Endpoint("GET", f"{C}/team", plan_scoped=True),
    Endpoint("POST", f"{C}/team",
             lambda s: {"staff_id": str(s.world.staff["outsider"].id)}, probes=("plan",),
             plan_scoped=True, success=201),
    Endpoint("DELETE", f"{C}/team/{{member_id:uuid}}", if_match="member", probes=("plan",),
             plan_scoped=True, success=204),
    Endpoint("POST", f"{C}/team/{{member_id:uuid}}/lead", if_match="member", probes=("plan",),
             plan_scoped=True),
    # goals
    Endpoint("GET", f"{C}/goals", plan_scoped=True),
    Endpoint("POST", f"{C}/goals",
             lambda s: {"description": "Climb the stairs", "owners": ["physical_therapist"]},
             probes=("plan",), plan_scoped=True, success=201),
    Endpoint("GET", f"{C}/goals/{{goal_id:uuid}}", plan_scoped=True),
    Endpoint("PATCH", f"{C}/goals/{{goal_id:uuid}}", lambda s: {"description": "Rewritten"},
             if_match="goal", probes=("goal", "plan"), plan_scoped=True),
    Endpoint("POST", f"{C}/goals/{{goal_id:uuid}}/acceptance",
             lambda s: {"participant": "physical_therapist", "status": "agree"},
             if_match="goal", probes=("goal", "plan"), plan_scoped=True,
             allowed_as="physical_therapist"),
    # activities
    Endpoint("GET", f"{C}/activities", plan_scoped=True),
    Endpoint("POST", f"{C}/activities",
             lambda s: {"kind": "exercise", "description": "Hamstring stretches",
                        "discipline": "physical_therapist"},
             probes=("plan",), plan_scoped=True, success=201),
    Endpoint("GET", f"{C}/activities/{{activity_id:uuid}}", plan_scoped=True),
    Endpoint("PATCH", f"{C}/activities/{{activity_id:uuid}}",
             lambda s: {"description": "Rewritten"}, if_match="activity",
             probes=("activity", "plan"), plan_scoped=True),
    # reviews
    Endpoint("GET", f"{C}/medications", plan_scoped=True),
    Endpoint("POST", f"{C}/medications",
             lambda s: {"rxnorm_code": "1049621", "display": "oxycodone 5 MG Oral Tablet",
                        "dose_quantity": 1, "dose_unit": "tablet"},
             probes=("plan",), plan_scoped=True, success=201),
    Endpoint("GET", f"{C}/medications/{{medication_id:uuid}}", plan_scoped=True),
    Endpoint("PATCH", f"{C}/medications/{{medication_id:uuid}}", lambda s: {"dose_quantity": 2},
             if_match="medication", probes=("medication",), plan_scoped=True),
    Endpoint("GET", f"{C}/opioid-safety", plan_scoped=True),
    Endpoint("GET", f"{C}/opioid-safety/history", plan_scoped=True),
    Endpoint("GET", f"{C}/opioid-safety/history.svg", plan_scoped=True),
    Endpoint("GET", f"{C}/alliance", plan_scoped=True),
    Endpoint("GET", f"{C}/alliance.svg", plan_scoped=True),
    Endpoint("POST", f"{C}/opioid-reviews", lambda s: {"reviewed_on": "2026-01-02"},
             probes=("plan",), plan_scoped=True, allowed_as="physician", success=201),
    Endpoint("GET", f"{C}/tapers", plan_scoped=True),
    Endpoint("POST", f"{C}/tapers",
             lambda s: {"opioid_since": "2020-01-01", "starts_on": "2031-01-01",
                        "original_daily_mme": 40, "ingredient": "morphine",
                        "steps": [{"date": "2031-01-01", "daily_mme": 36}]},
             probes=("plan",), plan_scoped=True, allowed_as="physician", success=201),
    Endpoint("GET", f"{C}/tapers/{{taper_id:uuid}}", plan_scoped=True),
    Endpoint("PUT", f"{C}/tapers/{{taper_id:uuid}}/steps",
             lambda s: {"steps": [{"date": "2030-02-01", "daily_mme": 27}]},
             if_match="taper", probes=("taper",), plan_scoped=True, allowed_as="physician"),
    Endpoint("PUT", f"{C}/tapers/{{taper_id:uuid}}/shared-decision",
             lambda s: {"patient_agreed": True, "decided_on": "2026-01-02",
                        "goals_served": [s.ids["goal_id"]]},
             if_match="taper", probes=("taper",), plan_scoped=True, allowed_as="physician"),
    Endpoint("POST", f"{C}/tapers/{{taper_id:uuid}}/acknowledgements",
             lambda s: {"kind": "no-shared-decision", "reason": "decided at the next visit"},
             if_match="taper", probes=("taper",), plan_scoped=True, allowed_as="physician"),
    Endpoint("POST", f"{C}/tapers/{{taper_id:uuid}}/status", lambda s: {"status": "revoked"},
             if_match="taper", probes=("taper",), plan_scoped=True, allowed_as="physician"),
    Endpoint("POST", f"{API}/check-ins",
             lambda s: {"care_plan_id": s.ids["plan_id"], "due_at": "2031-06-01T15:00:00Z"},
             probes=("plan",), plan_scoped=True, success=201),
    Endpoint("GET", f"{API}/check-ins/{{check_in_id:uuid}}", plan_scoped=True),
    Endpoint("GET", f"{API}/message-templates"),
    Endpoint("PUT", f"{API}/message-templates/{{kind:str}}/{{language:str}}",
             lambda s: {"subject": "How are we doing?",
                        "body_text": "Hi {first_name}, tell us how it is going: {url}"},
             success=201),
    Endpoint("GET", f"{C}/reviews", plan_scoped=True),
    Endpoint("POST", f"{C}/reviews",
             lambda s: {"entries": [{"goal_id": s.ids["goal_id"], "level": 1}],
                        "participants": [{"kind": "patient"}]},
             probes=("reviews", "goal", "plan"), plan_scoped=True, success=201),
    # tasks
    Endpoint("POST", f"{API}/tasks", lambda s: {"title": "Another task"}, probes=("tasks",),
             success=201),
    Endpoint("GET", f"{API}/tasks"),
    Endpoint("GET", f"{API}/tasks/{{task_id:uuid}}", plan_scoped=True),
    Endpoint("PATCH", f"{API}/tasks/{{task_id:uuid}}", lambda s: {"priority": "urgent"},
             if_match="task", probes=("task",), plan_scoped=True),
    # audit
    Endpoint("GET", f"{API}/audit-events"),
    # the outbox (coordinators and admins)
    Endpoint("GET", f"{API}/messages"),
    Endpoint("GET", f"{API}/messages/{{message_id:uuid}}"),
    Endpoint("POST", f"{API}/messages/{{message_id:uuid}}/requeue", if_match="message",
             probes=("message",)),
    # clinic settings (admins change them; coordinators read them) and visits
    Endpoint("GET", f"{API}/clinic-settings"),
    Endpoint("PATCH", f"{API}/clinic-settings", lambda s: {"check_in_every_days": 7},
             if_match="clinic_settings", probes=("clinic_settings",)),
    Endpoint("POST", f"{C}/visits",
             lambda s: {"clinician_id": str(s.world.staff["physician"].id),
                        "visited_at": "2026-01-02T15:00:00Z"},
             probes=("plan",), plan_scoped=True, success=201),
    # questionnaires (admins write; every staff role reads)
    Endpoint("GET", f"{API}/questionnaires", allowed_as="physician"),
    Endpoint("POST", f"{API}/questionnaires", lambda s: own_questionnaire(),
             probes=("questionnaires",), success=201),
    Endpoint("PUT", f"{API}/questionnaires/{{name:str}}/item-texts",
             lambda s: {"texts": wai_sr_texts(), "terms_note": "Licensed from SPR"},
             probes=("questionnaires",)),
    Endpoint("PUT", f"{API}/questionnaires/{{name:str}}/permission",
             lambda s: {"note": "Written permission on file"}, probes=("questionnaires",)),
    # SMART Backend Services clients (admins only)
    Endpoint("POST", f"{API}/smart-clients",
             lambda s: {"name": "Another EHR", "scopes": "system/CarePlan.rs",
                        "jwks": SMART_JWKS},
             probes=("smart_clients", "staff"), success=201),
    Endpoint("GET", f"{API}/smart-clients"),
    Endpoint("GET", f"{API}/smart-clients/{{smart_client_id:uuid}}"),
    Endpoint("DELETE", f"{API}/smart-clients/{{smart_client_id:uuid}}",
             probes=("smart_client", "staff")),
    # EHR connections (admins write; coordinators and admins read)
    Endpoint("POST", f"{API}/ehr-connections", lambda s: _new_ehr_connection(),
             probes=("ehr_connections",), success=201),
    Endpoint("GET", f"{API}/ehr-connections"),
    Endpoint("GET", f"{API}/ehr-connections/{{connection_id:uuid}}"),
    Endpoint("PATCH", f"{API}/ehr-connections/{{connection_id:uuid}}",
             lambda s: {"active": False}, if_match="ehr_connection",
             probes=("ehr_connection",)),
    # FHIR subscriptions, read-only (coordinators and admins)
    Endpoint("GET", f"{API}/subscriptions"),
    Endpoint("GET", f"{API}/subscriptions/{{subscription_id:uuid}}"),
]
BY_ID = {e.id: e for e in ENDPOINTS}


# -- who gets 403 for what ------------------------------------------------------------------

_MANAGER_ONLY = ["GET /message-templates", "PUT /message-templates/{kind}/{language}",
                 "POST /patients", "PATCH /patients/{patient_id}", "POST /care-plans",
                 "PATCH /care-plans/{plan_id}", "POST /care-plans/{plan_id}/status",
                 "POST /care-plans/{plan_id}/team",
                 "DELETE /care-plans/{plan_id}/team/{member_id}",
                 "POST /care-plans/{plan_id}/team/{member_id}/lead",
                 "GET /messages", "GET /messages/{message_id}",
                 "POST /messages/{message_id}/requeue", "GET /clinic-settings",
                 "GET /subscriptions", "GET /subscriptions/{subscription_id}"]
_ADMIN_ONLY = ["POST /staff", "PATCH /staff/{staff_id}", "POST /staff/{staff_id}/tokens",
               "GET /staff/{staff_id}/tokens", "DELETE /staff/{staff_id}/tokens/{token_id}",
               "POST /disciplines", "GET /audit-events", "PATCH /clinic-settings"]
_ADMIN_ONLY += ["POST /questionnaires", "PUT /questionnaires/{name}/item-texts",
                "PUT /questionnaires/{name}/permission"]
_ADMIN_ONLY += ["POST /smart-clients", "GET /smart-clients", "GET /smart-clients/{smart_client_id}",
                "DELETE /smart-clients/{smart_client_id}"]
_MANAGER_ONLY += ["GET /ehr-connections", "GET /ehr-connections/{connection_id}"]
_ADMIN_ONLY += ["POST /ehr-connections", "PATCH /ehr-connections/{connection_id}"]
_OTHER_DISCIPLINE = ["PATCH /care-plans/{plan_id}/goals/{goal_id}",
                     "PATCH /care-plans/{plan_id}/activities/{activity_id}",
                     "POST /care-plans/{plan_id}/goals",
                     "POST /care-plans/{plan_id}/activities",
                     "POST /care-plans/{plan_id}/goals/{goal_id}/acceptance"]

FORBIDDEN: list[tuple[str, Endpoint]] = [
    # the plan's lead physician is on the team, but is no coordinator or admin
    *[("physician", BY_ID[e]) for e in _MANAGER_ONLY + _ADMIN_ONLY],
    *[("coordinator", BY_ID[e]) for e in _ADMIN_ONLY],
    # the acupuncturist is on the team; the goal and the activity are the physical therapist's
    *[("acupuncturist", BY_ID[e]) for e in _OTHER_DISCIPLINE],
    # ...and the task is neither theirs nor asked by them
    ("acupuncturist", BY_ID["PATCH /tasks/{task_id}"]),
    # medications are the physician's (and coordinators') to record; the rest of the team reads
    ("psychologist", BY_ID["POST /care-plans/{plan_id}/medications"]),
    ("physical_therapist", BY_ID["PATCH /care-plans/{plan_id}/medications/{medication_id}"]),
    # tapers are decided by a physician on the team, not by coordinators or other disciplines
    ("coordinator", BY_ID["POST /care-plans/{plan_id}/tapers"]),
    ("psychologist", BY_ID["PUT /care-plans/{plan_id}/tapers/{taper_id}/steps"]),
    ("coordinator", BY_ID["POST /care-plans/{plan_id}/tapers/{taper_id}/acknowledgements"]),
    ("acupuncturist", BY_ID["POST /care-plans/{plan_id}/opioid-reviews"]),
]


# -- lists seen from elsewhere --------------------------------------------------------------

@dataclass(frozen=True)
class ListCase:
    name: str
    path: Callable[[Scene], str]
    """Built from the `world` scene (its ids may appear in the query)."""
    own_row: str | None = None
    """Key in the other clinic's rows that must be listed (the list is not just empty)."""
    empty: bool = False
    not_found: bool = False
    """The filter names one of the caller's-clinic-only resources: another clinic's id is 404."""


LIST_CASES: list[ListCase] = [
    ListCase("patients", lambda s: f"{API}/patients?limit=100", own_row="patient_id"),
    ListCase("patients-by-family-name",
             lambda s: f"{API}/patients?family_name={s.secrets['family_name']}", empty=True),
    ListCase("staff", lambda s: f"{API}/staff?limit=100", own_row="staff_id"),
    ListCase("disciplines", lambda s: f"{API}/disciplines"),
    ListCase("care-plans", lambda s: f"{API}/care-plans?limit=100", own_row="plan_id"),
    ListCase("care-plans-by-patient",
             lambda s: f"{API}/care-plans?patient_id={s.ids['patient_id']}", empty=True),
    ListCase("tasks", lambda s: f"{API}/tasks?limit=100", own_row="task_id"),
    ListCase("tasks-by-plan", lambda s: f"{API}/tasks?care_plan_id={s.ids['plan_id']}",
             empty=True),
    ListCase("tasks-by-patient", lambda s: f"{API}/tasks?patient_id={s.ids['patient_id']}",
             empty=True),
    ListCase("audit-events", lambda s: f"{API}/audit-events?limit=500", own_row="patient_id"),
    ListCase("message-templates", lambda s: f"{API}/message-templates"),
    ListCase("audit-events-by-patient",
             lambda s: f"{API}/audit-events?patient_id={s.ids['patient_id']}", not_found=True),
    ListCase("messages", lambda s: f"{API}/messages?limit=100", own_row="message_id"),
    ListCase("messages-dead", lambda s: f"{API}/messages?status=dead", own_row="message_id"),
    ListCase("messages-by-patient",
             lambda s: f"{API}/messages?patient_id={s.ids['patient_id']}", empty=True),
    ListCase("questionnaires", lambda s: f"{API}/questionnaires"),
    ListCase("subscriptions", lambda s: f"{API}/subscriptions?limit=100",
             own_row="subscription_id"),
    ListCase("ehr-connections", lambda s: f"{API}/ehr-connections", own_row="connection_id"),
]
LIST_TEMPLATES = {f"{API}/patients", f"{API}/staff", f"{API}/disciplines", f"{API}/care-plans",
                  f"{API}/tasks", f"{API}/audit-events", f"{API}/messages",
                  f"{API}/message-templates", f"{API}/clinic-settings"}
"""Every GET without an id in its path has a ListCase, but for `clinic-settings`: one
resource, not a list (another clinic's admin reading its own settings is in
tests/api/test_clinic_settings.py)."""
LIST_TEMPLATES |= {f"{API}/questionnaires", f"{API}/ehr-connections"}
LIST_TEMPLATES |= {f"{API}/smart-clients"}
LIST_TEMPLATES |= {f"{API}/subscriptions"}
"""Admins only, so not in LIST_CASES (which also lists as a coordinator): another clinic's
admin listing only its own clients is in tests/smart/test_smart_clients_api.py."""


# -- what a denied answer may say -------------------------------------------------------------

def leaks(response: Any, request_path: str, scene: Scene,
          others: tuple[ClinicWorld, ...] = ()) -> list[str]:
    """What a denied answer gives away beyond a bare problem+json: nothing, it should be."""
    found: list[str] = []
    text = response.text
    lowered = text.lower()
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith(PROBLEM):
        found.append(f"content-type {content_type!r}, not {PROBLEM}")
    try:
        body = response.json()
    except ValueError:
        found.append("a body that is not JSON")
    else:
        if not isinstance(body, dict) or body.get("status") != response.status_code:
            found.append("a body that is not a problem with the response's status")
    found += [f"the stack trace word {w!r}" for w in STACK_WORDS if w in lowered]
    in_path = {m.lower() for m in _UUID.findall(request_path)}
    found += [f"the id {m}, which is not in the request path" for m in _UUID.findall(text)
              if m.lower() not in in_path]
    found += [f"the id {i} in hex form" for i in scene.known_ids - in_path
              if uuid.UUID(i).hex in lowered]
    found += [f"the {name} {value!r}" for name, value in scene.secrets.items()
              if value.lower() in lowered]
    for world in (scene.world, *others):
        found += [f"the name of {who} {s.name!r}" for who, s in world.staff.items()
                  if s.name.lower() in lowered]
        if world.slug.lower() in lowered:
            found.append(f"the clinic slug {world.slug!r}")
        tokens = [*world.tokens.values()]
        if world is scene.world:
            tokens += [scene.live_token, scene.revoked_token, *scene.dead_tokens.values()]
        if any(token in text for token in tokens):
            found.append("a bearer token")
    return found


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

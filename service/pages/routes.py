"""The patient pages under `/p/{token}`: a check-in to answer, the plan in plain words, or
a one-button opt-out, depending on what the signed link was issued for (`service.links`).

No staff token and no `actor`: the link is the patient's credential. Each request is one
transaction (`uow`); what a page reads or writes of the patient's data is audited
(`actor_type` system, the request id and client address beside it). A used, expired,
tampered or unknown link gets a friendly page and changes nothing; so does any error, whose
transaction is rolled back. Server-rendered HTML, no scripts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import traceback
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, MethodNotAllowedException
from sqlalchemy.exc import DBAPIError

from domain.check_in import CheckIn
from domain.errors import DomainError, NotFound
from domain.goal import Goal
from domain.patient import Patient
from domain.vocab import PATIENT_PARTICIPANT
from service import links
from service.api.problems import exception_handlers as api_exception_handlers
from service.db.repos.links import LinkPurpose, PatientLink
from service.db.repos.responses import StoredResponse
from service.db.uow import UnitOfWork
from service.links import Refusal, RefusalReason
from service.pages import i18n
from service.pages.fhir_response import questionnaire_response
from service.pages.instruments import Asked, asked_for, clinic_wai_sr_texts, read_answers
from service.pages.render import page
from service.usecases import alliance

log = structlog.get_logger("concord.pages")


class LinkRefused(Exception):
    """Raised mid-request when the link turns out to be unusable (a concurrent submit won):
    the transaction rolls back and the refusal page is shown."""

    def __init__(self, reason: RefusalReason, language: str) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.language = language


# --- Views of what a page shows ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OptionView:
    id: str
    code: str
    text: str
    extra: str | None
    checked: bool


@dataclasses.dataclass(frozen=True)
class ItemView:
    id: str
    name: str
    label: str
    text: str
    hint: str | None
    layout: str
    options: list[OptionView]
    error: bool

    @property
    def described_by(self) -> str:
        hint = [f"hint-{self.id}"] if self.hint else []
        return " ".join([*hint, f"err-{self.id}"] if self.error else hint)


@dataclasses.dataclass(frozen=True)
class SectionView:
    key: str
    heading: str
    intro: str | None
    items: list[ItemView]


def _sections(
    asked: Sequence[Asked],
    language: str,
    clinician: str | None,
    chosen: Mapping[str, Sequence[str]],
    problems: Mapping[str, str],
) -> list[SectionView]:
    t = i18n.Translator(language)
    number = 0
    sections: list[SectionView] = []
    for one in asked:
        items: list[ItemView] = []
        for item in one.instrument.items:
            number += 1
            name = one.field(item)
            dom_id = name.replace(".", "-")
            first, last = item.options[0], item.options[-1]
            scale = len(item.options) > 6
            anchored = scale and first.label != first.code and last.label != last.code
            picked = list(chosen.get(name, []))
            options = [
                OptionView(
                    id=f"{dom_id}-{option.code}",
                    code=option.code,
                    text=option.code if scale else option.label,
                    extra=option.label if scale and option.label != option.code else None,
                    checked=picked == [option.code],
                )
                for option in item.options
            ]
            items.append(
                ItemView(
                    id=dom_id,
                    name=name,
                    label=t("check_in.question_of", number=number),
                    text=item.text or "",
                    hint=t(
                        "check_in.scale_hint",
                        low_value=first.code, low=first.label,
                        high_value=last.code, high=last.label,
                    ) if anchored else None,
                    layout="scale" if scale else "list",
                    options=options,
                    error=name in problems,
                )
            )
        if one.kind == "pain":
            heading, intro = t("check_in.pain_heading"), None
        else:
            heading = t("check_in.alliance_heading")
            intro = (
                t("check_in.about", clinician=clinician) if clinician
                else t("check_in.about_team")
            )
        sections.append(SectionView(key=one.key, heading=heading, intro=intro, items=items))
    return sections


# --- Shared steps ------------------------------------------------------------------------


def _settings_secret(state: State) -> str:
    secret: str = state.settings.secret_key
    return secret


def _audit(uow: UnitOfWork, link: PatientLink, action: str, kind: str, rid: uuid.UUID) -> None:
    uow.audit(None, action, kind, rid, link.patient_id, clinic_id=link.clinic_id)


async def _patient(uow: UnitOfWork, link: PatientLink) -> Patient:
    patient = await uow.patients.get(link.clinic_id, link.patient_id)
    _audit(uow, link, "read", "Patient", patient.id)
    return patient


async def _refusal(uow: UnitOfWork, refusal: Refusal) -> Response[str]:
    """A refusal in the patient's language when the link is ours (signature verified),
    in both languages otherwise. Reads the language only; shows nothing of the patient."""
    language = None
    if refusal.link_id is not None:
        language = await uow.links.language_of(refusal.link_id)
    return refusal_page(refusal.reason, language)


def refusal_page(reason: RefusalReason, language: str | None) -> Response[str]:
    key, status = {
        RefusalReason.USED: ("used", 410),
        RefusalReason.EXPIRED: ("expired", 410),
        RefusalReason.CLOSED: ("closed", 410),
        RefusalReason.TAMPERED: ("invalid", 404),
        RefusalReason.UNKNOWN: ("invalid", 404),
    }[reason]
    return _message(f"refused.{key}", language, status)


def _message(key: str, language: str | None, status: int) -> Response[str]:
    languages = [i18n.language_of(language)] if language else list(i18n.LANGUAGES)
    blocks = [
        {
            "lang": lang,
            "title": i18n.text(lang, f"{key}.title"),
            "body": [i18n.text(lang, f"{key}.body")],
        }
        for lang in languages
    ]
    return page(
        "message.html", languages[0], status, title=blocks[0]["title"], blocks=blocks
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """The submitted form as lists of strings; anything unreadable counts as empty (every
    question then shows as unanswered)."""
    try:
        form = await request.form()
    except Exception:  # a malformed body is the client's problem: treat as no answers
        return {}
    return {
        key: [v for v in form.getall(key) if isinstance(v, str)] for key in form
    }


# --- Check-in ----------------------------------------------------------------------------


class _CheckInPage:
    """What the check-in page needs, read once per request."""

    def __init__(
        self, patient: Patient, check_in: CheckIn, clinic: str | None, clinician: str | None,
        asked: list[Asked],
    ) -> None:
        self.patient, self.check_in, self.clinic = patient, check_in, clinic
        self.clinician, self.asked = clinician, asked

    def render(
        self,
        status: int = 200,
        chosen: Mapping[str, Sequence[str]] | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> Response[str]:
        language = self.patient.language
        sections = _sections(self.asked, language, self.clinician, chosen or {}, problems or {})
        errors = [i for s in sections for i in s.items if i.error]
        return page(
            "check_in.html", language, status,
            title=i18n.text(language, "check_in.title"),
            name=self.patient.given_name, clinic=self.clinic,
            sections=sections, errors=errors,
        )


async def _load_check_in(uow: UnitOfWork, link: PatientLink) -> _CheckInPage:
    if link.check_in_id is None:  # issue() never writes one; a hand-made row would
        raise LinkRefused(RefusalReason.UNKNOWN, i18n.DEFAULT_LANGUAGE)
    patient = await _patient(uow, link)
    check_in = await uow.check_ins.get(link.clinic_id, link.check_in_id)
    _audit(uow, link, "read", "CheckIn", check_in.id)
    clinician = (
        await uow.links.staff_name(link.clinic_id, check_in.clinician_id)
        if check_in.clinician_id else None
    )
    texts = await clinic_wai_sr_texts(uow, link.clinic_id, patient.language)
    return _CheckInPage(
        patient, check_in, await uow.links.clinic_name(link.clinic_id), clinician,
        asked_for(check_in.questionnaires, patient.language, texts),
    )


async def _answer_check_in(
    uow: UnitOfWork, link: PatientLink, form: Mapping[str, Sequence[str]], now: dt.datetime
) -> Response[str]:
    view = await _load_check_in(uow, link)
    language = view.patient.language
    answers, problems = read_answers(view.asked, form)
    if problems:
        return view.render(422, chosen=form, problems=problems)
    # The link, then the check-in, each taken in one guarded statement: a second submit
    # (double click, another tab) finds one of them taken and changes nothing.
    if not await links.consume(uow, link, now):
        raise LinkRefused(RefusalReason.USED, language)
    if not await uow.responses.answer_check_in(link.clinic_id, view.check_in.id, now):
        raise LinkRefused(RefusalReason.USED, language)
    _audit(uow, link, "update", "CheckIn", view.check_in.id)
    for one in view.asked:
        response_id = uuid.uuid4()
        codes = answers[one.key]
        await uow.responses.add(
            StoredResponse(
                id=response_id,
                clinic_id=link.clinic_id,
                patient_id=link.patient_id,
                care_plan_id=view.check_in.care_plan_id,
                check_in_id=view.check_in.id,
                clinician_id=view.check_in.clinician_id,
                questionnaire=one.url,
                resource=questionnaire_response(
                    response_id=response_id,
                    instrument=one.instrument,
                    canonical=one.canonical,
                    codes=codes,
                    patient_id=link.patient_id,
                    care_plan_id=view.check_in.care_plan_id,
                    language=language,
                    authored_at=now,
                ),
                scores=one.score(codes),
                authored_at=now,
            )
        )
        _audit(uow, link, "create", "QuestionnaireResponse", response_id)
    await alliance.after_answer(uow, view.check_in, now)  # same transaction: drop, goals
    return _done(
        language, view.clinic,
        title=i18n.text(language, "thanks.title", name=view.patient.given_name),
        body=[i18n.text(language, "thanks.body"), i18n.text(language, "thanks.urgent")],
    )


def _done(language: str, clinic: str | None, *, title: str, body: list[str]) -> Response[str]:
    return page(
        "message.html", language, 200, title=title, clinic=clinic,
        blocks=[{"lang": i18n.language_of(language), "title": title, "body": body}],
    )


# --- Plan --------------------------------------------------------------------------------


async def _plan(uow: UnitOfWork, link: PatientLink, now: dt.datetime) -> Response[str]:
    if link.care_plan_id is None:
        raise LinkRefused(RefusalReason.UNKNOWN, i18n.DEFAULT_LANGUAGE)
    patient = await _patient(uow, link)
    plan = await uow.care_plans.get(link.clinic_id, link.care_plan_id)
    _audit(uow, link, "read", "CarePlan", plan.id)
    language = patient.language
    names = await uow.links.discipline_names(link.clinic_id)
    today = now.astimezone(ZoneInfo(patient.time_zone)).date()
    goals = [g for g in plan.goals if g.is_open]
    reviews = [g.next_review_date for g in goals if g.next_review_date is not None]

    def review(day: dt.date | None) -> str | None:
        if day is None:
            return None
        return i18n.text(language, "plan.soon") if day <= today else i18n.long_date(language, day)

    def shown(goal: Goal) -> dict[str, Any]:
        return {"description": goal.description, "review": review(goal.next_review_date)}

    team = sorted(plan.team, key=lambda m: not m.lead)  # the lead first, then as they joined
    return page(
        "plan.html", language,
        title=i18n.text(language, "plan.title"),
        name=patient.given_name,
        clinic=await uow.links.clinic_name(link.clinic_id),
        what_matters=plan.what_matters,
        # The patient's own words first; goals a discipline put forward are told apart.
        own_goals=[shown(g) for g in goals if g.expressed_by == PATIENT_PARTICIPANT],
        team_goals=[shown(g) for g in goals if g.expressed_by != PATIENT_PARTICIPANT],
        team=[
            {"name": m.name, "discipline": i18n.discipline(language, m.discipline, names),
             "lead": m.lead}
            for m in team
        ],
        next_review=i18n.long_date(language, min(reviews)) if reviews else None,
        review_due=bool(reviews) and min(reviews) <= today,
    )


# --- Opt-out -----------------------------------------------------------------------------


OPT_OUT_ACTION = "opt-out"
"""A check-in page also offers to stop messages (`?action=opt-out`, then a POST with
`action=opt-out`): the message that carried the link says so. That does not use up the
check-in link; an opt-out link is used up by its POST."""


async def _opt_out_form(uow: UnitOfWork, link: PatientLink) -> Response[str]:
    patient = await _patient(uow, link)
    clinic = await uow.links.clinic_name(link.clinic_id)
    return page(
        "opt_out.html", patient.language,
        title=i18n.text(patient.language, "opt_out.title"),
        name=patient.given_name, clinic=clinic,
        clinic_label=clinic or _our_clinic(patient.language),
        action=OPT_OUT_ACTION if link.purpose is LinkPurpose.CHECK_IN else None,
    )


async def _opt_out(uow: UnitOfWork, link: PatientLink, now: dt.datetime) -> Response[str]:
    patient = await _patient(uow, link)
    language = patient.language
    if link.purpose is LinkPurpose.OPT_OUT and not await links.consume(uow, link, now):
        raise LinkRefused(RefusalReason.USED, language)
    if patient.consent.messages:
        patient.set_consent(False, now)
        patient.version += 1
        await uow.patients.save(patient)
        _audit(uow, link, "update", "Patient", patient.id)
    clinic = await uow.links.clinic_name(link.clinic_id)
    return _done(
        language, clinic,
        title=i18n.text(language, "opt_out.done_title"),
        body=[i18n.text(language, "opt_out.done_body", clinic=clinic or _our_clinic(language))],
    )


def _our_clinic(language: str) -> str:
    return "Nuestra clínica" if i18n.language_of(language) == "es" else "Our clinic"


# --- Handlers ----------------------------------------------------------------------------


@get("/{token:str}", include_in_schema=False)
async def show(
    token: str, uow: UnitOfWork, now: dt.datetime, state: State, action: str | None = None
) -> Response[str]:
    opened = await links.open_link(uow, token, _settings_secret(state), now)
    if isinstance(opened, Refusal):
        return await _refusal(uow, opened)
    if opened.purpose is LinkPurpose.CHECK_IN:
        if action == OPT_OUT_ACTION:
            return await _opt_out_form(uow, opened)
        return (await _load_check_in(uow, opened)).render()
    if opened.purpose is LinkPurpose.PLAN:
        return await _plan(uow, opened, now)
    return await _opt_out_form(uow, opened)


@post("/{token:str}", include_in_schema=False, status_code=200)
async def submit(
    token: str,
    request: Request[Any, Any, Any],
    uow: UnitOfWork,
    now: dt.datetime,
    state: State,
) -> Response[str]:
    opened = await links.open_link(uow, token, _settings_secret(state), now)
    if isinstance(opened, Refusal):
        return await _refusal(uow, opened)
    if opened.purpose is LinkPurpose.CHECK_IN:
        form = await _form(request)
        if form.get("action") == [OPT_OUT_ACTION]:
            return await _opt_out(uow, opened, now)
        return await _answer_check_in(uow, opened, form, now)
    if opened.purpose is LinkPurpose.OPT_OUT:
        return await _opt_out(uow, opened, now)
    raise MethodNotAllowedException()  # a plan link is only read


@get("/", include_in_schema=False)
async def no_token() -> Response[str]:
    return refusal_page(RefusalReason.TAMPERED, None)


# --- Errors: friendly pages, never problem+json, never the token -----------------------------


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Every error under /p as a page. The request's transaction has been rolled back."""
    del request
    if isinstance(exc, LinkRefused):
        return refusal_page(exc.reason, exc.language)
    if isinstance(exc, HTTPException) and 400 <= exc.status_code < 500:
        if exc.status_code == 404:
            return refusal_page(RefusalReason.TAMPERED, None)
        return _message("error", None, exc.status_code)
    if isinstance(exc, NotFound):  # the link's check-in or plan is gone
        return refusal_page(RefusalReason.UNKNOWN, None)
    if isinstance(exc, DomainError):  # e.g. the record changed under us: nothing was saved
        return _message("error", None, 409)
    frames = [
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}"
        for f in traceback.extract_tb(exc.__traceback__)[-8:]
    ]
    if isinstance(exc, DBAPIError):
        log.error("page_database_error", error=type(exc.orig or exc).__name__, frames=frames)
        return _message("error", None, 503)
    log.error("page_error", error=type(exc).__name__, frames=frames)
    return _message("error", None, 500)


patient_pages = Router(
    path="/p",
    route_handlers=[show, submit, no_token],
    include_in_schema=False,
    # Every exception type the app maps to problem+json is mapped here too, so that the
    # most specific handler for any error under /p is this one.
    exception_handlers={
        **{kind: page_error for kind in api_exception_handlers},
        LinkRefused: page_error,
    },
)

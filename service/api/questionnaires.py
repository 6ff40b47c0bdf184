"""`questionnaires`: the instruments a clinic can give to patients. The shipped ones, with
whether each is available to this clinic yet (licensed item texts loaded, written
permission recorded), and the clinic's own FHIR R4 Questionnaires, held to the same rules
(`domain.instruments.questionnaire`, terms of use in `data/TERMS.md`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, get, post, put

from domain.actor import Actor
from domain.errors import IllegalTransition, Invalid, NotFound
from domain.instruments.questionnaire import (
    BUILTINS,
    Instrument,
    Terms,
    is_available,
    load_builtin,
    parse_questionnaire,
    with_item_texts,
)
from domain.patient import SUPPORTED_LANGUAGES, require_text
from domain.template import StigmatizingLanguage
from domain.words import check_text
from service.db.repos.questionnaires import ClinicQuestionnaire, LoadedTexts
from service.db.uow import UnitOfWork

MAX_URL_LENGTH = 300  # clinic_questionnaires.url
MAX_VERSION_LENGTH = 40  # clinic_questionnaires.version


class QuestionnaireView(msgspec.Struct, kw_only=True):
    key: str
    """What the path names it by: the Questionnaire.id of a shipped instrument, the
    Questionnaire.name of a clinic's own."""
    url: str
    version: str
    name: str
    title: str
    builtin: bool
    terms: Terms
    requires_permission: bool
    texts_loaded: bool
    """Every item has its text (for a shipped instrument: the clinic has loaded them)."""
    texts_language: str | None = None
    texts_terms_note: str | None = None
    permission_recorded_at: dt.datetime | None = None
    permission_note: str | None = None
    available: bool
    """The clinic can give it to patients now (see `is_available`)."""
    resource: dict[str, Any] | None = None
    """A clinic's own: the FHIR Questionnaire as stored."""


class ItemTextsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    texts: dict[str, str]
    terms_note: str
    """Under what licence or permission the clinic holds these texts."""
    language: str = "en"


class PermissionBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: str


def _view(key: str, instrument: Instrument, row: ClinicQuestionnaire | None,
          builtin: bool) -> QuestionnaireView:
    loaded = row.item_texts if row is not None else None
    if builtin and loaded is not None:
        instrument = with_item_texts(instrument, loaded.texts)
    permitted = row is not None and row.permission_recorded_at is not None
    return QuestionnaireView(
        key=key, url=instrument.url, version=instrument.version, name=instrument.name,
        title=instrument.title, builtin=builtin, terms=instrument.terms,
        requires_permission=instrument.requires_permission,
        texts_loaded=instrument.texts_loaded,
        texts_language=loaded.language if loaded else None,
        texts_terms_note=loaded.terms_note if loaded else None,
        permission_recorded_at=row.permission_recorded_at if row else None,
        permission_note=row.permission_note if row else None,
        available=is_available(instrument, permitted),
        resource=None if builtin or row is None else row.resource,
    )


async def _all(uow: UnitOfWork, actor: Actor) -> list[QuestionnaireView]:
    rows = {row.url: row for row in await uow.questionnaires.all(actor.clinic_id)}
    views = []
    for key in BUILTINS:
        instrument = load_builtin(key)
        views.append(_view(key, instrument, rows.pop(instrument.url, None), builtin=True))
    for row in rows.values():
        if row.resource is not None:
            own = parse_questionnaire(row.resource)
            views.append(_view(own.name, own, row, builtin=False))
    return views


class QuestionnaireController(Controller):
    path = "/questionnaires"
    tags = ["questionnaires"]

    @get("/")
    async def find(self, uow: UnitOfWork, actor: Actor) -> list[QuestionnaireView]:
        """The shipped instruments with their availability to this clinic, then the
        clinic's own questionnaires."""
        # Every staff role reads it: admins, coordinators and clinicians.
        return await _all(uow, actor)

    @post("/")
    async def add(self, data: dict[str, Any], uow: UnitOfWork,
                  actor: Actor) -> QuestionnaireView:
        """Add a clinic's own FHIR R4 Questionnaire (admins). 422 naming the field when it
        breaks the rules; 409 when the clinic already has one at this url or by this name."""
        actor.require_admin()
        instrument = parse_questionnaire(data)
        if len(instrument.url) > MAX_URL_LENGTH:
            raise Invalid("url", f"at most {MAX_URL_LENGTH} characters")
        if len(instrument.version) > MAX_VERSION_LENGTH:
            raise Invalid("version", f"at most {MAX_VERSION_LENGTH} characters")
        builtin_urls = {load_builtin(key).url for key in BUILTINS}
        if instrument.url in builtin_urls or instrument.name in BUILTINS:
            raise Invalid("url" if instrument.url in builtin_urls else "name",
                          "is that of an instrument Concord ships")
        existing = await _all(uow, actor)
        if any(view.name == instrument.name and not view.builtin for view in existing):
            raise IllegalTransition(f"the clinic already has a questionnaire named "
                                    f"{instrument.name!r}", field="name")
        if not await uow.questionnaires.add_own(actor.clinic_id, instrument.url,
                                                instrument.version, data, actor.staff_id):
            raise IllegalTransition("the clinic already has a questionnaire at this url",
                                    field="url")
        row = await uow.questionnaires.get(actor.clinic_id, instrument.url)
        return _view(instrument.name, instrument, row, builtin=False)

    @put("/{name:str}/item-texts")
    async def load_texts(self, name: str, data: ItemTextsBody, uow: UnitOfWork,
                         actor: Actor) -> QuestionnaireView:
        """Load the item texts of a shipped instrument from the clinic's licensed copy
        (the WAI-SR, say), replacing any loaded before. Every item needs a text; a
        stigmatizing term answers 422 naming the item and the term (admins)."""
        actor.require_admin()
        if name not in BUILTINS:
            raise NotFound("shipped questionnaire")
        if data.language not in SUPPORTED_LANGUAGES:
            raise Invalid("language", f"one of {', '.join(SUPPORTED_LANGUAGES)}")
        require_text("terms_note", data.terms_note)
        terms_note = data.terms_note.strip()
        instrument = with_item_texts(load_builtin(name), data.texts)
        texts = {item.link_id: item.text for item in instrument.items
                 if item.text is not None and item.link_id in data.texts}
        for link_id, text in texts.items():
            findings = check_text(text)
            if findings:
                raise StigmatizingLanguage(f"texts.{link_id}", findings)
        row = await uow.questionnaires.load_texts(
            actor.clinic_id, instrument.url, instrument.version,
            LoadedTexts(language=data.language, terms_note=terms_note, texts=texts),
            actor.staff_id)
        return _view(name, load_builtin(name), row, builtin=True)

    @put("/{name:str}/permission")
    async def record_permission(self, name: str, data: PermissionBody, uow: UnitOfWork,
                                actor: Actor) -> QuestionnaireView:
        """Record the clinic's written permission from an instrument's owner (PROMIS, say),
        which an instrument that requires it needs before it is given (admins)."""
        actor.require_admin()
        require_text("note", data.note)
        note = data.note.strip()
        view = next((v for v in await _all(uow, actor) if v.key == name), None)
        if view is None:
            raise NotFound("questionnaire")
        row = await uow.questionnaires.record_permission(
            actor.clinic_id, view.url, view.version, note, actor.staff_id)
        if view.builtin or row.resource is None:
            return _view(name, load_builtin(name), row, builtin=True)
        return _view(name, parse_questionnaire(row.resource), row, builtin=False)

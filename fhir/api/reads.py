"""The read side of /fhir over the resource store: search (GET and POST _search), read,
vread, instance and type history, and Patient/$everything. Resources are served as
stored (JSONB decoded by msgspec, never through the pydantic models).

A clinician sees what is about no patient and what is about the patients of plans whose
team they are on; coordinators and admins see the whole clinic; system clients are also
held to their scopes. Nothing crosses clinics."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler

from domain.actor import Actor
from domain.errors import Forbidden
from fhir.api import routes
from fhir.api.audit_events import HANDLERS as AUDIT_EVENT_HANDLERS
from fhir.api.http import FHIR_JSON
from fhir.api.http import outcome as _outcome
from fhir.api.scopes import require
from fhir.api.searchset import ERRORS, http_date, links, searchset, strict
from fhir.api.searchset import history as history_bundle
from fhir.search.params import STORED_TYPES
from fhir.search.query import (
    CURSOR,
    DEFAULT_COUNT,
    SearchError,
    count_of,
    decode_cursor,
    encode_cursor,
    instant,
    parse,
    position_int,
    printable,
)
from fhir.store.repository import Stored
from service.db.uow import UnitOfWork

__all__ = ["HANDLERS", "STORED_TYPES"]

Pairs = list[tuple[str, str]]


# -- what every handler shares --------------------------------------------------------


def base_of(state: State) -> str:
    return f"{state.settings.public_base_url}/fhir"


def viewer(actor: Actor) -> uuid.UUID | None:
    """Whose care-team membership limits what `actor` sees; None for the whole clinic."""
    return None if actor.manages_plans else actor.staff_id


_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_id(text: str) -> bool:
    """Whether `text` can be a FHIR id at all; nothing else is ever stored."""
    return _FHIR_ID.match(text) is not None


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def may_see(uow: UnitOfWork, actor: Actor, patient_id: uuid.UUID | None) -> bool:
    if patient_id is None or actor.manages_plans:
        return True
    return await uow.patients.seen_by(actor.clinic_id, patient_id, actor.staff_id)


def permitted(actor: Actor, items: Iterable[Stored]) -> list[Stored]:
    """What the actor's scopes let it read, of resources a search pulled in."""
    kept = []
    for item in items:
        try:
            require(actor, item.resource_type, "r")
        except Forbidden:
            continue
        kept.append(item)
    return kept


def audit(uow: UnitOfWork, actor: Actor, action: str, items: Iterable[Stored]) -> None:
    for item in items:
        if item.patient_id is not None:
            uow.audit(actor, action, item.resource_type, as_uuid(item.id), item.patient_id)


def unsupported(resource_type: str) -> Response[dict[str, Any]]:
    return _outcome(404, "not-supported",
                    f"this server does not serve {resource_type!r} resources", resource_type)


def not_found(resource_type: str, resource_id: str) -> Response[dict[str, Any]]:
    return _outcome(404, "not-found", f"{resource_type}/{resource_id} is not known")


def gone(resource_type: str, resource_id: str) -> Response[dict[str, Any]]:
    return _outcome(410, "deleted", f"{resource_type}/{resource_id} has been deleted")


def bundle(body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(body, media_type=FHIR_JSON)


def resource(body: dict[str, Any], version_id: int, updated: dt.datetime) -> Response[Any]:
    return Response(body, media_type=FHIR_JSON, headers={
        "ETag": f'W/"{version_id}"', "Last-Modified": http_date(updated)})


async def form_pairs(request: Request[Any, Any, Any]) -> Pairs:
    """The query's parameters, then the form body's (POST _search)."""
    pairs = list(request.query_params.multi_items())
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        form = await request.form()
        pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    elif (await request.body()).strip():
        raise SearchError("body", "POST _search takes application/x-www-form-urlencoded "
                                  "parameters", "not-supported")
    return pairs


# -- search ---------------------------------------------------------------------------


async def search(
    resource_type: str, pairs: Pairs, request: Request[Any, Any, Any], state: State,
    uow: UnitOfWork, actor: Actor, now: dt.datetime,
) -> Response[Any]:
    if resource_type not in STORED_TYPES:
        return unsupported(resource_type)
    require(actor, resource_type, "s")
    base = base_of(state)
    wanted = parse(resource_type, pairs, strict=strict(request), base=base, now=now)
    page = await uow.store.search(actor.clinic_id, wanted, viewer=viewer(actor))
    included = permitted(actor, await uow.store.included(actor.clinic_id, wanted, page.items,
                                                           viewer=viewer(actor)))
    audit(uow, actor, "search", [*page.items, *included])
    last = page.items[-1] if page.more else None
    following = None if last is None else encode_cursor([last.last_updated.isoformat(), last.id])
    link = links(base, resource_type, wanted.applied, wanted.cursor, following)
    return bundle(searchset(base, page.total, link, page.items, included, now))


# -- read and vread -------------------------------------------------------------------


async def read(
    resource_type: str, resource_id: str, uow: UnitOfWork, actor: Actor
) -> Response[Any]:
    if resource_type not in STORED_TYPES:
        return unsupported(resource_type)
    require(actor, resource_type, "r")
    stored = None
    if is_id(resource_id):
        stored = await uow.store.current(actor.clinic_id, resource_type, resource_id)
    if stored is None or not await may_see(uow, actor, stored.patient_id):
        return not_found(resource_type, resource_id)
    if stored.deleted:
        return gone(resource_type, resource_id)
    audit(uow, actor, "read", [stored])
    return resource(stored.resource, stored.version_id, stored.last_updated)


async def vread(
    resource_type: str, resource_id: str, version_id: str, uow: UnitOfWork, actor: Actor
) -> Response[Any]:
    if resource_type not in STORED_TYPES:
        return unsupported(resource_type)
    require(actor, resource_type, "r")
    version = None
    if is_id(resource_id) and version_id.isdigit() and len(version_id) < 10:
        version = await uow.store.version(actor.clinic_id, resource_type, resource_id,
                                          int(version_id))
    if version is None or not await may_see(uow, actor, version.patient_id):
        return _outcome(404, "not-found",
                        f"{resource_type}/{resource_id} has no version {version_id!r}")
    if version.resource is None:
        return gone(resource_type, f"{resource_id}/_history/{version_id}")
    if version.patient_id is not None:
        uow.audit(actor, "vread", resource_type, as_uuid(resource_id), version.patient_id)
    return resource(version.resource, version.version_id, version.last_updated)


# -- history --------------------------------------------------------------------------


class _Paging:
    """_count, _since and _cursor, the parameters history and $everything take."""

    def __init__(self, pairs: Pairs, *, strict: bool) -> None:
        self.count, self.since = DEFAULT_COUNT, None
        self.cursor: str | None = None
        self.position: list[Any] | None = None
        self.applied: Pairs = []
        for name, value in pairs:
            if value == "" or name in ("_format", "_pretty"):
                continue
            printable(name, value)
            if name == "_count":
                self.count = count_of(value)
            elif name == "_since":
                self.since = instant(value, name)
            elif name == CURSOR:
                self.cursor, self.position = value, decode_cursor(value)
                continue
            elif strict:
                raise SearchError(name, f"{name!r} is not supported here", "not-supported")
            else:
                continue
            self.applied.append((name, value))

    def at(self, *kinds: type) -> list[Any] | None:
        """The cursor's position if its parts are of `kinds`; a SearchError if not."""
        if self.position is None:
            return None
        if len(self.position) != len(kinds) or not all(
                isinstance(part, kind) for part, kind in zip(self.position, kinds, strict=True)):
            raise SearchError(CURSOR, "the paging cursor is not one this server issued")
        for part in self.position:
            if isinstance(part, int):
                position_int(part)
            else:
                printable(CURSOR, part)
        return self.position


async def history(
    resource_type: str, resource_id: str | None, request: Request[Any, Any, Any],
    state: State, uow: UnitOfWork, actor: Actor, now: dt.datetime,
) -> Response[Any]:
    if resource_type not in STORED_TYPES:
        return unsupported(resource_type)
    require(actor, resource_type, "r")
    paging = _Paging(list(request.query_params.multi_items()), strict=strict(request))
    if resource_id is not None:
        current = None
        if is_id(resource_id):
            current = await uow.store.current(actor.clinic_id, resource_type, resource_id)
        if current is None or not await may_see(uow, actor, current.patient_id):
            return not_found(resource_type, resource_id)
    position = paging.at(int)
    page = await uow.store.history(
        actor.clinic_id, resource_type, resource_id, count=max(paging.count, 1),
        since=paging.since, before_seq=None if position is None else position[0],
        viewer=viewer(actor))
    for version in page.items:
        if version.patient_id is not None:
            uow.audit(actor, "history", resource_type, as_uuid(version.id), version.patient_id)
    following = encode_cursor([page.items[-1].seq]) if page.more else None
    path = resource_type if resource_id is None else f"{resource_type}/{resource_id}"
    link = links(base_of(state), f"{path}/_history", paging.applied, paging.cursor, following)
    return bundle(history_bundle(base_of(state), page.total, link, page.items, now))


# -- Patient/$everything --------------------------------------------------------------


async def everything(
    resource_type: str, patient_id: str, request: Request[Any, Any, Any], state: State,
    uow: UnitOfWork, actor: Actor, now: dt.datetime,
) -> Response[Any]:
    """The patient's record: the Patient, every current resource filed under them, and
    the Practitioners those refer to, as a paged searchset."""
    if resource_type != "Patient":
        return _outcome(404, "not-supported", "$everything is defined on Patient only",
                        resource_type)
    require(actor, "Patient", "r")
    paging = _Paging(list(request.query_params.multi_items()), strict=strict(request))
    patient = None
    if is_id(patient_id):
        patient = await uow.store.current(actor.clinic_id, "Patient", patient_id)
    if patient is None or not await may_see(uow, actor, patient.patient_id):
        return not_found("Patient", patient_id)
    if patient.deleted:
        return gone("Patient", patient_id)
    position = paging.at(int, str, str, str)
    after = None if position is None else (
        position[0], instant(position[1], CURSOR), position[2], position[3])
    base = base_of(state)
    page = await uow.store.everything(actor.clinic_id, patient_id, count=max(paging.count, 1),
                                      base=base, since=paging.since, after=after)
    items = permitted(actor, [item.stored for item in page.items])
    audit(uow, actor, "read", items)
    last = page.items[-1] if page.more else None
    following = None if last is None else encode_cursor([
        last.rank, last.stored.last_updated.isoformat(), last.stored.resource_type,
        last.stored.id])
    link = links(base, f"Patient/{patient_id}/$everything", paging.applied, paging.cursor,
                 following)
    return bundle(searchset(base, page.total, link, items, [], now))


# -- routes ---------------------------------------------------------------------------
# Generic routes take `{resource_type}`. Where another handler list has a static route
# under a type's name (routes.py: `/Communication`...), that static segment hides the
# generic ones for the type, so the same handlers are also mounted under the type's own
# name for every path that handler list does not itself serve.

def _mount(fixed: str | None) -> list[HTTPRouteHandler]:
    """The read routes: generic (`fixed` None, the type is the path's first segment) or
    under one type's own name, where `resource_type` is given as a dependency instead."""
    prefix = "/{resource_type:str}" if fixed is None else f"/{fixed}"
    given: dict[str, Any] = {"exception_handlers": ERRORS, "media_type": FHIR_JSON}
    if fixed is not None:
        given["dependencies"] = {"resource_type": Provide(lambda: fixed, sync_to_thread=False)}

    @get(prefix, **given)
    async def search_get(resource_type: str, request: Request[Any, Any, Any], state: State,
                         uow: UnitOfWork, actor: Actor, now: dt.datetime) -> Response[Any]:
        return await search(resource_type, list(request.query_params.multi_items()), request,
                            state, uow, actor, now)

    @post(f"{prefix}/_search", status_code=200, **given)
    async def search_post(resource_type: str, request: Request[Any, Any, Any], state: State,
                          uow: UnitOfWork, actor: Actor, now: dt.datetime) -> Response[Any]:
        return await search(resource_type, await form_pairs(request), request, state, uow,
                            actor, now)

    @get(f"{prefix}/_history", **given)
    async def type_history(resource_type: str, request: Request[Any, Any, Any], state: State,
                           uow: UnitOfWork, actor: Actor, now: dt.datetime) -> Response[Any]:
        return await history(resource_type, None, request, state, uow, actor, now)

    @get(f"{prefix}/{{resource_id:str}}", **given)
    async def read_instance(resource_type: str, resource_id: str, uow: UnitOfWork,
                            actor: Actor) -> Response[Any]:
        return await read(resource_type, resource_id, uow, actor)

    @get(f"{prefix}/{{resource_id:str}}/_history", **given)
    async def instance_history(resource_type: str, resource_id: str,
                               request: Request[Any, Any, Any], state: State, uow: UnitOfWork,
                               actor: Actor, now: dt.datetime) -> Response[Any]:
        return await history(resource_type, resource_id, request, state, uow, actor, now)

    @get(f"{prefix}/{{resource_id:str}}/_history/{{version_id:str}}", **given)
    async def read_version(resource_type: str, resource_id: str, version_id: str,
                           uow: UnitOfWork, actor: Actor) -> Response[Any]:
        return await vread(resource_type, resource_id, version_id, uow, actor)

    @get(f"{prefix}/{{resource_id:str}}/$everything", **given)
    async def patient_everything(resource_type: str, resource_id: str,
                                 request: Request[Any, Any, Any], state: State,
                                 uow: UnitOfWork, actor: Actor, now: dt.datetime
                                 ) -> Response[Any]:
        return await everything(resource_type, resource_id, request, state, uow, actor, now)

    handlers = [search_get, search_post, type_history, read_instance, instance_history,
                read_version]
    if fixed in (None, "Patient"):
        handlers.append(patient_everything)
    return handlers


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _hidden(others: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """Per-type routes for the stored types that `others` hides with a static segment,
    except the (method, path) pairs `others` serves itself."""
    served = {(method, _shape(path))
              for h in others for path in h.paths for method in h.http_methods}
    statics = {path.split("/")[1] for h in others for path in h.paths}
    mounted: list[HTTPRouteHandler] = []
    for resource_type in sorted(STORED_TYPES & statics):
        if ("GET", f"/{resource_type}") in served:
            # Its search is theirs: POST _search must not answer differently.
            served.add(("POST", f"/{resource_type}/_search"))
        for handler in _mount(resource_type):
            shapes = {(m, _shape(p)) for p in handler.paths for m in handler.http_methods}
            if not shapes & served:
                mounted.append(handler)
    return mounted


HANDLERS: list[HTTPRouteHandler] = [
    *AUDIT_EVENT_HANDLERS, *_hidden(routes.HANDLERS), *_mount(None),
]

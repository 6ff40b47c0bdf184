"""`clinic-settings`: the clinic's outreach settings (check-in cadence, check-ins after a
visit, how early goal-review reminders go, messages a patient may get a day).

Admins change them; coordinators and admins read them. A clinic that has never saved its
settings reads the defaults at version 0 (ETag `W/"0"`); a PATCH always needs If-Match,
and the first one, with `W/"0"`, creates the clinic's settings at version 1."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, patch

from domain.actor import Actor
from domain.care_plan import check_version
from domain.clinic_settings import ClinicSettings
from service.api.deps import expected_version, with_etag
from service.db.uow import UnitOfWork


class ClinicSettingsPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    check_in_every_days: int | msgspec.UnsetType = msgspec.UNSET
    check_in_after_visit: bool | msgspec.UnsetType = msgspec.UNSET
    reminder_days_before: int | msgspec.UnsetType = msgspec.UNSET
    messages_per_day: int | msgspec.UnsetType = msgspec.UNSET


class ClinicSettingsController(Controller):
    path = "/clinic-settings"
    tags = ["clinic"]

    @get("/")
    async def read(self, uow: UnitOfWork, actor: Actor) -> Response[ClinicSettings]:
        actor.require_plan_manager()
        settings = await uow.clinic_settings.get(actor.clinic_id)
        return with_etag(settings, settings.version)

    @patch("/")
    async def update(self, request: Request[Any, Any, Any], data: ClinicSettingsPatch,
                     uow: UnitOfWork, actor: Actor,
                     now: dt.datetime) -> Response[ClinicSettings]:
        """Change some settings; If-Match is required (`W/"0"` before the first save).
        A value out of bounds answers 422 naming the field."""
        actor.require_admin()
        expected = expected_version(request)
        settings = await uow.clinic_settings.get(actor.clinic_id, for_update=True)
        check_version("clinic settings", settings.version, expected)
        for field in data.__struct_fields__:
            value = getattr(data, field)
            if value is not msgspec.UNSET:
                setattr(settings, field, value)
        settings.validate()
        settings.version += 1
        settings.updated_at = now
        await uow.clinic_settings.save(settings)
        return with_etag(settings, settings.version)

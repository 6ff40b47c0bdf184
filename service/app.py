"""The composition root: settings in, a Litestar app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from redis.asyncio import Redis

from fhir.api.router import fhir_router
from service import logging as concord_logging
from service.api.alliance import AllianceController
from service.api.audit import AuditController
from service.api.care_plans import CarePlanController
from service.api.check_ins import CheckInController
from service.api.clinic_settings import ClinicSettingsController
from service.api.deps import provide_actor, provide_now, provide_uow
from service.api.ehr_connections import EhrConnectionController
from service.api.health import live, ready
from service.api.medications import MedicationController
from service.api.messages import MessageController
from service.api.opioids import OpioidController
from service.api.patients import PatientController
from service.api.plan_parts import (
    ActivityController,
    GoalController,
    ReviewController,
    TeamController,
)
from service.api.problems import exception_handlers
from service.api.questionnaires import QuestionnaireController
from service.api.smart_clients import SmartClientController
from service.api.staff import DisciplineController, StaffController
from service.api.subscriptions import SubscriptionController
from service.api.tasks import TaskController
from service.api.templates import TemplateController
from service.api.visits import VisitController
from service.db.engine import make_engine
from service.middleware import request_id_middleware
from service.pages.routes import patient_pages
from service.settings import Settings
from service.smart.token import issue_token as smart_token
from service.smart.well_known import well_known as smart_configuration


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def create_app(settings: Settings) -> Litestar:
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set (`dev` sets them for you)")
    database_url, redis_url = settings.database_url, settings.redis_url

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.engine = make_engine(database_url, pool_size=settings.db_pool_size)
        app.state.redis = Redis.from_url(redis_url)
        app.state.settings = settings
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.engine.dispose()

    api = Router(
        path="/api/v1",
        route_handlers=[
            PatientController,
            StaffController,
            DisciplineController,
            CarePlanController,
            TeamController,
            GoalController,
            ActivityController,
            ReviewController,
            TaskController,
            AuditController,
            MedicationController,
            OpioidController,
            AllianceController,
            CheckInController,
            MessageController,
            TemplateController,
            ClinicSettingsController,
            VisitController,
            EhrConnectionController,
            QuestionnaireController,
            SubscriptionController,
            SmartClientController,
        ],
    )
    prometheus = PrometheusConfig(
        app_name="concord", group_path=True, exclude=["^/metrics", "^/health"]
    )
    concord_logging.configure(settings.log_level, settings.log_format)
    return Litestar(
        route_handlers=[
            api,
            fhir_router,
            smart_token,
            smart_configuration,
            live,
            ready,
            MetricsController,
            patient_pages,
        ],
        lifespan=[lifespan],
        # App-wide so that every boundary (the internal API, FHIR) shares one transaction
        # per request and one way of knowing who is asking.
        dependencies={
            "uow": Provide(provide_uow),
            "actor": Provide(provide_actor),
            "now": Provide(provide_now, sync_to_thread=False),
        },
        state=State({"settings": settings}),
        exception_handlers=exception_handlers,
        middleware=[request_id_middleware, prometheus.middleware],
        openapi_config=OpenAPIConfig(
            title="Concord",
            version="1",
            path="/schema",
            description="One shared care plan for an integrative chronic-pain care team.",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        response_cache_config=ResponseCacheConfig(),
        request_max_body_size=1_048_576,
        debug=False,
        logging_config=None,
    )


def app_from_env() -> Litestar:
    """Factory for `uvicorn --factory service.app:app_from_env`."""
    return create_app(Settings.from_env())

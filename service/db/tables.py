"""The schema, as SQLAlchemy Core tables. Alembic migrations are the source of truth
for the database; `alembic check` keeps these two in step."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True)


def _clinic() -> sa.Column[object]:
    return sa.Column("clinic_id", UUID(as_uuid=True), sa.ForeignKey("clinics.id"), nullable=False)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.clock_timestamp(),
    )


def _version() -> sa.Column[object]:
    return sa.Column("version", sa.Integer, nullable=False, server_default="1")


clinics = sa.Table(
    "clinics",
    metadata,
    _id(),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    _ts("created_at"),
)

disciplines = sa.Table(
    "disciplines",
    metadata,
    _clinic(),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("display", sa.String(100), nullable=False),
    sa.PrimaryKeyConstraint("clinic_id", "code"),
)

staff = sa.Table(
    "staff",
    metadata,
    _id(),
    _clinic(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320)),
    sa.Column("discipline", sa.String(40), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    _version(),
    _ts("created_at"),
    sa.ForeignKeyConstraint(
        ["clinic_id", "discipline"],
        ["disciplines.clinic_id", "disciplines.code"],
        name="fk_staff_discipline",
    ),
    sa.Index("ix_staff_clinic_role", "clinic_id", "role"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id(),
    _clinic(),
    sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("label", sa.String(200)),
    # SMART scopes of a token issued at /auth/token; None: a staff token, limited by role
    sa.Column("scopes", sa.Text),
    _ts("created_at"),
    _ts("expires_at", nullable=True),
    _ts("revoked_at", nullable=True),
    sa.Index("ix_api_tokens_staff", "staff_id"),
)

patients = sa.Table(
    "patients",
    metadata,
    _id(),
    _clinic(),
    sa.Column("given_name", sa.String(200), nullable=False),
    sa.Column("family_name", sa.String(200), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("preferred_channel", sa.String(16), nullable=False),
    sa.Column("contact_points", JSONB, nullable=False, server_default="[]"),
    sa.Column("identifiers", JSONB, nullable=False, server_default="[]"),
    sa.Column("quiet_hours", JSONB),
    sa.Column("consent", JSONB, nullable=False, server_default="{}"),
    _version(),
    _ts("created_at"),
    _ts("updated_at"),
    sa.Index("ix_patients_clinic_created", "clinic_id", "created_at", "id"),
)

care_plans = sa.Table(
    "care_plans",
    metadata,
    _id(),
    _clinic(),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("what_matters", sa.Text),
    sa.Column("health_concerns", JSONB, nullable=False, server_default="[]"),
    sa.Column("notes", JSONB, nullable=False, server_default="[]"),
    sa.Column("created_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _version(),
    _ts("created_at"),
    _ts("updated_at"),
    sa.Index("ix_care_plans_clinic_created", "clinic_id", "created_at", "id"),
    sa.Index("ix_care_plans_patient", "patient_id"),
)

care_team_members = sa.Table(
    "care_team_members",
    metadata,
    _id(),
    _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("discipline", sa.String(40), nullable=False),
    sa.Column("lead", sa.Boolean, nullable=False, server_default=sa.false()),
    _version(),
    _ts("added_at"),
    sa.UniqueConstraint("care_plan_id", "staff_id", name="uq_care_team_members_plan_staff"),
    sa.Index("ix_care_team_members_staff", "staff_id", "care_plan_id"),
    # The database, not only the code, holds the plan to one lead.
    sa.Index(
        "uq_care_team_members_one_lead",
        "care_plan_id",
        unique=True,
        postgresql_where=sa.text("lead"),
    ),
)

goals = sa.Table(
    "goals",
    metadata,
    _id(),
    _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("owners", JSONB, nullable=False),
    sa.Column("expressed_by", sa.String(40), nullable=False),
    sa.Column("lifecycle_status", sa.String(20), nullable=False),
    sa.Column("achievement_status", sa.String(20)),
    sa.Column("measure", JSONB),
    sa.Column("gas", JSONB),
    sa.Column("gas_weight", sa.Float, nullable=False, server_default="1"),
    sa.Column("review_cadence_days", sa.Integer, nullable=False),
    sa.Column("next_review_date", sa.Date),
    sa.Column("acceptances", JSONB, nullable=False, server_default="[]"),
    sa.Column("created_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _version(),
    _ts("created_at"),
    sa.Index("ix_goals_plan", "care_plan_id", "created_at"),
    sa.Index(
        "ix_goals_review_due",
        "next_review_date",
        postgresql_where=sa.text(
            "lifecycle_status IN ('proposed','planned','accepted','active','on-hold')"
        ),
    ),
)

activities = sa.Table(
    "activities",
    metadata,
    _id(),
    _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("discipline", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("frequency", JSONB),
    sa.Column("goal_ids", JSONB, nullable=False, server_default="[]"),
    sa.Column("created_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _version(),
    _ts("created_at"),
    sa.Index("ix_activities_plan", "care_plan_id", "created_at"),
)

goal_reviews = sa.Table(
    "goal_reviews",
    metadata,
    _id(),
    _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("reviewed_on", sa.Date, nullable=False),
    sa.Column("entries", JSONB, nullable=False),
    sa.Column("participants", JSONB, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("patient_voice", sa.Text),
    sa.Column("rho", sa.Float, nullable=False),
    sa.Column("t_score", sa.Float, nullable=False),
    sa.Column("recorded_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _ts("created_at"),
    sa.Index("ix_goal_reviews_plan", "care_plan_id", "reviewed_on"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    _id(),
    _clinic(),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("priority", sa.String(10), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id")),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id")),
    sa.Column("goal_id", UUID(as_uuid=True), sa.ForeignKey("goals.id")),
    sa.Column("owner_id", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    sa.Column("requester_id", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    sa.Column("due_on", sa.Date),
    sa.Column("status_reason", sa.Text),
    # Worker-opened tasks carry what they are about, so a second run opens nothing new.
    sa.Column("dedupe_key", sa.String(200), unique=True),
    _version(),
    _ts("created_at"),
    _ts("updated_at"),
    sa.Index("ix_tasks_clinic_created", "clinic_id", "created_at", "id"),
    sa.Index("ix_tasks_owner_status", "owner_id", "status"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("clinic_id", UUID(as_uuid=True), nullable=False),
    sa.Column(
        "occurred_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.clock_timestamp(),
    ),
    sa.Column("actor_type", sa.String(20), nullable=False),
    sa.Column("actor_id", UUID(as_uuid=True)),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("resource_id", UUID(as_uuid=True)),
    sa.Column("patient_id", UUID(as_uuid=True)),
    sa.Column("client_address", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Index("ix_audit_events_patient", "clinic_id", "patient_id", "id"),
    sa.Index("ix_audit_events_clinic", "clinic_id", "id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("clinic_id", UUID(as_uuid=True), nullable=False),
    sa.Column("staff_id", UUID(as_uuid=True), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("body", sa.LargeBinary),
    sa.Column("headers", JSONB),
    _ts("created_at"),
    sa.PrimaryKeyConstraint("clinic_id", "staff_id", "key"),
)

medication_statements = sa.Table(
    "medication_statements", metadata,
    _id(), _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("rxnorm_code", sa.String(10), nullable=False),
    sa.Column("display", sa.String(500), nullable=False),
    sa.Column("dose_quantity", sa.Float, nullable=False),
    sa.Column("dose_unit", sa.String(40), nullable=False),
    sa.Column("route", sa.String(40), nullable=False),
    sa.Column("schedule", JSONB, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("reported_by", sa.String(20), nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Column("note", sa.Text),
    _version(), _ts("created_at"), _ts("updated_at"),
    sa.Index("ix_medication_statements_plan", "care_plan_id", "created_at"),
    sa.Index("ix_medication_statements_patient", "patient_id", "status"),
    sa.Index("ix_medication_statements_active", "care_plan_id",
             postgresql_where=sa.text("status = 'active'")),
)

taper_plans = sa.Table(
    "taper_plans", metadata,
    _id(), _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # The whole taper (steps, shared decision, guardrail hits and acknowledgements): it is
    # read and written as one document under the plan's lock.
    sa.Column("document", JSONB, nullable=False),
    _version(), _ts("created_at"), _ts("updated_at"),
    sa.Index("ix_taper_plans_plan", "care_plan_id", "created_at"),
)

opioid_reviews = sa.Table(
    "opioid_reviews", metadata,
    _id(), _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("reviewed_on", sa.Date, nullable=False),
    sa.Column("reviewed_by", UUID(as_uuid=True), sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("note", sa.Text),
    _ts("created_at"),
    sa.Index("ix_opioid_reviews_plan", "care_plan_id", "reviewed_on"),
)

messages = sa.Table(
    "messages", metadata,
    _id(), _clinic(),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id")),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300)),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    # What the message is (a plan and an occurrence): writing it twice keeps one row.
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="8"),
    _ts("next_attempt_at"),
    _ts("lease_until", nullable=True),
    # The error class and the provider's code only: never an address or any content.
    sa.Column("last_error", sa.String(200)),
    sa.Column("provider_message_id", sa.String(200)),
    _ts("sent_at", nullable=True),
    _version(), _ts("created_at"), _ts("updated_at"),
    sa.UniqueConstraint("clinic_id", "idempotency_key", name="uq_messages_clinic_key"),
    sa.CheckConstraint("status IN ('queued','sending','sent','failed','dead')", name="status"),
    sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
    # What the relay and the claim look for: due rows, and claims whose lease ran out.
    sa.Index("ix_messages_due", "next_attempt_at",
             postgresql_where=sa.text("status IN ('queued','failed')")),
    sa.Index("ix_messages_lease", "lease_until", postgresql_where=sa.text("status = 'sending'")),
    sa.Index("ix_messages_clinic_created", "clinic_id", "created_at", "id"),
    sa.Index("ix_messages_clinic_status", "clinic_id", "status", "created_at", "id"),
    sa.Index("ix_messages_patient", "patient_id", "created_at"),
)

check_ins = sa.Table(
    "check_ins", metadata,
    _id(), _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    # The relationship asked about: the alliance is with a person, not with a clinic.
    sa.Column("clinician_id", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deliver_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("send_now", sa.Boolean, nullable=False, server_default=sa.false()),
    # scheduled -> queued (its message is in the outbox) -> answered; or withheld (no
    # consent), expired (link ran out unanswered), cancelled.
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("status_reason", sa.String(200)),
    # What the check-in is (plan and occurrence): scheduling it twice keeps one row.
    sa.Column("occurrence_key", sa.String(200), nullable=False),
    sa.Column("questionnaires", JSONB, nullable=False, server_default="[]"),
    sa.Column("message_id", UUID(as_uuid=True), sa.ForeignKey("messages.id")),
    _ts("answered_at", nullable=True),
    sa.Column("requested_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _version(), _ts("created_at"), _ts("updated_at"),
    sa.UniqueConstraint("clinic_id", "occurrence_key", name="uq_check_ins_clinic_occurrence"),
    sa.Index("ix_check_ins_due", "deliver_at", postgresql_where=sa.text("status = 'scheduled'")),
    sa.Index("ix_check_ins_plan", "care_plan_id", "due_at"),
    sa.Index("ix_check_ins_clinic_created", "clinic_id", "created_at", "id"),
)

patient_links = sa.Table(
    "patient_links", metadata,
    # The link's id is its jti: the signed token names it, and `used_at` makes it single-use.
    _id(), _clinic(),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id")),
    sa.Column("check_in_id", UUID(as_uuid=True), sa.ForeignKey("check_ins.id")),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    _ts("used_at", nullable=True),
    _ts("created_at"),
    sa.Index("ix_patient_links_check_in", "check_in_id"),
)

questionnaire_responses = sa.Table(
    "questionnaire_responses", metadata,
    _id(), _clinic(),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id")),
    sa.Column("check_in_id", UUID(as_uuid=True), sa.ForeignKey("check_ins.id")),
    sa.Column("clinician_id", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    sa.Column("questionnaire", sa.String(300), nullable=False),
    # The FHIR QuestionnaireResponse as stored, and the scores computed from it.
    sa.Column("resource", JSONB, nullable=False),
    sa.Column("scores", JSONB, nullable=False, server_default="{}"),
    sa.Column("authored_at", sa.DateTime(timezone=True), nullable=False),
    _ts("created_at"),
    sa.Index("ix_questionnaire_responses_patient", "patient_id", "clinician_id", "authored_at"),
    sa.Index("ix_questionnaire_responses_plan", "care_plan_id", "authored_at"),
)

reminder_deliveries = sa.Table(
    "reminder_deliveries", metadata,
    # One row per reminder occurrence (goal, review date, audience) once it has gone out,
    # in whichever merged message carried it: a reminder is never sent twice nor dropped.
    sa.Column("clinic_id", UUID(as_uuid=True), sa.ForeignKey("clinics.id"), nullable=False),
    sa.Column("occurrence_key", sa.String(200), nullable=False),
    sa.Column("message_id", UUID(as_uuid=True), sa.ForeignKey("messages.id")),
    sa.Column("task_id", UUID(as_uuid=True), sa.ForeignKey("tasks.id")),
    _ts("created_at"),
    sa.PrimaryKeyConstraint("clinic_id", "occurrence_key"),
)

message_templates = sa.Table(
    "message_templates", metadata,
    # A clinic's own wording of a patient message, replacing the shipped default.
    sa.Column("clinic_id", UUID(as_uuid=True), sa.ForeignKey("clinics.id"), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("updated_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _version(), _ts("created_at"), _ts("updated_at"),
    sa.PrimaryKeyConstraint("clinic_id", "kind", "language"),
)

clinic_settings = sa.Table(
    "clinic_settings", metadata,
    sa.Column("clinic_id", UUID(as_uuid=True), sa.ForeignKey("clinics.id"), primary_key=True),
    sa.Column("check_in_every_days", sa.Integer, nullable=False, server_default="14"),
    sa.Column("check_in_after_visit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reminder_days_before", sa.Integer, nullable=False, server_default="3"),
    sa.Column("messages_per_day", sa.Integer, nullable=False, server_default="1"),
    _version(), _ts("updated_at"),
)

visits = sa.Table(
    "visits", metadata,
    _id(), _clinic(),
    sa.Column("care_plan_id", UUID(as_uuid=True), sa.ForeignKey("care_plans.id"), nullable=False),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id"), nullable=False),
    sa.Column("clinician_id", UUID(as_uuid=True), sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    _ts("created_at"),
    sa.Index("ix_visits_plan", "care_plan_id", "visited_at"),
)

clinic_questionnaires = sa.Table(
    "clinic_questionnaires", metadata,
    # A clinic's own questionnaire, or its licensed item texts for a shipped instrument,
    # or its recorded permission to use an instrument that needs one (PROMIS).
    _id(), _clinic(),
    sa.Column("url", sa.String(300), nullable=False),
    sa.Column("version", sa.String(40), nullable=False, server_default="1"),
    sa.Column("resource", JSONB),
    sa.Column("item_texts", JSONB),
    sa.Column("permission_recorded_at", sa.DateTime(timezone=True)),
    sa.Column("permission_note", sa.Text),
    sa.Column("recorded_by", UUID(as_uuid=True), sa.ForeignKey("staff.id")),
    sa.Column("row_version", sa.Integer, nullable=False, server_default="1"),
    _ts("created_at"), _ts("updated_at"),
    sa.UniqueConstraint("clinic_id", "url", name="uq_clinic_questionnaires_clinic_url"),
)

# --- FHIR ---------------------------------------------------------------------------
# Every resource served on /fhir, at its current version: the JSON served (with meta),
# what a client last wrote (kept whole, unknown elements included) and Concord's own
# projection at that moment, so that a later change made in Concord replaces only the
# elements Concord changed (ADR 0006).
fhir_resources = sa.Table(
    "fhir_resources", metadata,
    _clinic(),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("patient_id", UUID(as_uuid=True)),
    sa.Column("resource", JSONB, nullable=False),
    sa.Column("original", JSONB),
    sa.Column("projection", JSONB),
    sa.PrimaryKeyConstraint("clinic_id", "resource_type", "id"),
    sa.Index("ix_fhir_resources_updated", "clinic_id", "resource_type", "last_updated", "id"),
    sa.Index("ix_fhir_resources_patient", "clinic_id", "patient_id"),
)

# Every version ever served, deletes included, in one order (`seq`): vread, _history,
# and the change feed that subscriptions and the EHR push read from.
fhir_versions = sa.Table(
    "fhir_versions", metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    _clinic(),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("version_id", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("patient_id", UUID(as_uuid=True)),
    sa.Column("resource", JSONB),
    sa.UniqueConstraint("clinic_id", "resource_type", "id", "version_id",
                        name="uq_fhir_versions_resource_version"),
    sa.Index("ix_fhir_versions_type_updated", "clinic_id", "resource_type", "last_updated"),
    sa.Index("ix_fhir_versions_clinic_seq", "clinic_id", "seq"),
)

# The search index: one row per (resource, search parameter, value), rewritten on each
# version. token: system + code; reference: ref ("Patient/123"); date: [lo, hi), NULL for
# an open end; string and uri: value as written (string search folds case and accents).
fhir_search = sa.Table(
    "fhir_search", metadata,
    sa.Column("clinic_id", UUID(as_uuid=True), nullable=False),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("param", sa.String(64), nullable=False),
    sa.Column("system", sa.String(300)),
    sa.Column("code", sa.String(300)),
    sa.Column("ref", sa.String(300)),
    sa.Column("value", sa.Text),
    sa.Column("lo", sa.DateTime(timezone=True)),
    sa.Column("hi", sa.DateTime(timezone=True)),
    sa.ForeignKeyConstraint(
        ["clinic_id", "resource_type", "id"],
        ["fhir_resources.clinic_id", "fhir_resources.resource_type", "fhir_resources.id"],
        name="fk_fhir_search_resource", ondelete="CASCADE",
    ),
    sa.Index("ix_fhir_search_resource", "clinic_id", "resource_type", "id"),
    sa.Index("ix_fhir_search_token", "clinic_id", "resource_type", "param", "code"),
    sa.Index("ix_fhir_search_ref", "clinic_id", "resource_type", "param", "ref"),
    sa.Index("ix_fhir_search_date", "clinic_id", "resource_type", "param", "lo"),
)

# SMART Backend Services: a system registered by a clinic, with its public keys. It acts
# as its own staff row (role from its registration) so the audit trail names it.
smart_clients = sa.Table(
    "smart_clients", metadata,
    _id(), _clinic(),
    sa.Column("client_id", sa.String(200), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("jwks", JSONB),
    sa.Column("jwks_url", sa.String(500)),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    _version(), _ts("created_at"),
)

# Assertion ids seen, until they expire: a replayed `jti` is refused.
smart_assertions = sa.Table(
    "smart_assertions", metadata,
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("jti", sa.String(255), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("client_id", "jti"),
    sa.Index("ix_smart_assertions_expires", "expires_at"),
)

# Subscriptions (rest-hook): the FHIR resource lives in fhir_resources; this row is what
# delivery needs, and `cursor_seq` is how far through fhir_versions it has matched.
fhir_subscriptions = sa.Table(
    "fhir_subscriptions", metadata,
    _clinic(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("criteria", JSONB, nullable=False),
    sa.Column("endpoint", sa.String(1000), nullable=False),
    sa.Column("secret", sa.String(500)),
    sa.Column("headers", JSONB, nullable=False, server_default="[]"),
    sa.Column("payload", sa.String(20), nullable=False),
    # The topic canonical of a topic-based (backport) subscription; NULL for a classic one.
    sa.Column("topic", sa.String(500)),
    sa.Column("timeout_seconds", sa.Integer),
    sa.Column("heartbeat_seconds", sa.Integer),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("events_since_start", sa.BigInteger, nullable=False, server_default="0"),
    # Consecutive failed attempts of the oldest undelivered event (0 once one gets through).
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("last_delivered_at", sa.DateTime(timezone=True)),
    sa.Column("last_heartbeat_at", sa.DateTime(timezone=True)),
    # A delivery worker's claim: while it lasts no other worker sends for this subscription.
    sa.Column("lease_id", UUID(as_uuid=True)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    _ts("created_at"), _ts("updated_at"),
    sa.PrimaryKeyConstraint("clinic_id", "id"),
)

# The outbox of subscription notifications: one row per (subscription, change), sent in
# `seq` order per subscription.
subscription_notifications = sa.Table(
    "subscription_notifications", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("clinic_id", UUID(as_uuid=True), nullable=False),
    sa.Column("subscription_id", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("event_number", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    _ts("created_at"),
    sa.ForeignKeyConstraint(
        ["clinic_id", "subscription_id"],
        ["fhir_subscriptions.clinic_id", "fhir_subscriptions.id"],
        name="fk_subscription_notifications_subscription", ondelete="CASCADE",
    ),
    sa.UniqueConstraint("subscription_id", "clinic_id", "seq",
                        name="uq_subscription_notifications_event"),
    sa.Index("ix_subscription_notifications_due", "status", "next_attempt_at"),
)

# A clinic's EHR: where its FHIR server is, how Concord authenticates to it (SMART
# Backend Services, our private key), and how far the medication pull has read.
ehr_connections = sa.Table(
    "ehr_connections", metadata,
    _id(), _clinic(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("base_url", sa.String(500), nullable=False),
    sa.Column("token_url", sa.String(500)),
    sa.Column("client_id", sa.String(200)),
    sa.Column("private_key", JSONB),
    sa.Column("scopes", sa.Text, nullable=False, server_default="system/*.rs"),
    sa.Column("identifier_system", sa.String(300), nullable=False),
    sa.Column("medications_watermark", sa.DateTime(timezone=True)),
    sa.Column("push_cursor_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("last_polled_at", sa.DateTime(timezone=True)),
    sa.Column("last_pushed_at", sa.DateTime(timezone=True)),
    # "pull: ..." or "push: ...": each job clears only its own
    sa.Column("last_error", sa.Text),
    _version(), _ts("created_at"),
)

# What Concord knows of its resources on the EHR: the remote id and the version last
# seen, so pushes are version-aware updates.
ehr_links = sa.Table(
    "ehr_links", metadata,
    sa.Column("connection_id", UUID(as_uuid=True), sa.ForeignKey("ehr_connections.id"),
              nullable=False),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("local_id", sa.String(64), nullable=False),
    sa.Column("remote_id", sa.String(64), nullable=False),
    sa.Column("remote_version", sa.String(64)),
    sa.Column("pushed_version", sa.Integer),
    sa.Column("pushed", JSONB),
    # Patient links: the latest meta.lastUpdated seen per resource type pulled for this
    # patient ({"MedicationRequest": "2026-...", ...}); None: never pulled, so the next pull
    # reads all of the patient's resources
    sa.Column("watermarks", JSONB),
    _ts("updated_at"),
    sa.PrimaryKeyConstraint("connection_id", "resource_type", "local_id"),
    sa.Index("ix_ehr_links_remote", "connection_id", "resource_type", "remote_id"),
)

# EHR resources the pull did not record, and why (no RxNorm code, a dose Concord cannot
# hold...): one row per resource, replaced when a later version is seen, removed once one
# is recorded.
ehr_skips = sa.Table(
    "ehr_skips", metadata,
    sa.Column("connection_id", UUID(as_uuid=True), sa.ForeignKey("ehr_connections.id"),
              nullable=False),
    sa.Column("source", sa.String(600), nullable=False),
    sa.Column("version_id", sa.String(64)),
    sa.Column("patient_id", UUID(as_uuid=True), sa.ForeignKey("patients.id")),
    sa.Column("reason", sa.Text, nullable=False),
    _ts("seen_at"),
    sa.PrimaryKeyConstraint("connection_id", "source"),
    sa.Index("ix_ehr_skips_seen", "connection_id", "seen_at"),
)

# What `import-fhir` has loaded: each source resource (by its source and its id there, or
# its fullUrl or content hash) and the Concord resource it became, so a re-run of the
# same files changes nothing and later files can refer to earlier ones.
fhir_import_ledger = sa.Table(
    "fhir_import_ledger", metadata,
    _clinic(),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("source_ref", sa.String(600), nullable=False),
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("resource_id", sa.String(64), nullable=False),
    _ts("imported_at"),
    sa.PrimaryKeyConstraint("clinic_id", "source", "source_ref"),
)

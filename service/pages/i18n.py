"""Every word the patient pages show, in English and Spanish (`Patient.language`).

Plain language, second person, short sentences; Spanish uses the formal "usted", as a
clinic writing to a patient would. Item texts of the questionnaires come from their
definitions (`domain/instruments/data`), except the PEG's Spanish wording, which is
Concord's own translation (`PEG_ES`, see `domain/instruments/data/TERMS.md`: not a
validated translation)."""

from __future__ import annotations

import datetime as dt
from typing import Final

LANGUAGES: Final = ("en", "es")
DEFAULT_LANGUAGE: Final = "en"


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


STRINGS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "hello": "Hello {name}",
        "skip": "Skip to the questions",
        "check_in.title": "How are things going?",
        "check_in.intro": (
            "This takes about two minutes. Your answers go to your care team and help them "
            "care for you. There are no right or wrong answers."
        ),
        "check_in.about": "These questions are about your care with {clinician}.",
        "check_in.about_team": "These questions are about your care with your care team.",
        "check_in.pain_heading": "Your pain in the past week",
        "check_in.alliance_heading": "Working together",
        "check_in.required": "Please answer every question.",
        "check_in.scale_hint": "{low_value} means “{low}”. {high_value} means “{high}”.",
        "check_in.submit": "Send my answers",
        "check_in.errors_title": "Some questions still need an answer",
        "check_in.error_item": "Please choose an answer for this question.",
        "check_in.question_of": "Question {number}",
        "check_in.stop": "Would you rather not get these messages? You can stop them here.",
        "thanks.title": "Thank you, {name}",
        "thanks.body": (
            "Your answers have been sent to your care team. You can close this page now."
        ),
        "thanks.urgent": (
            "If you need help now, please contact your clinic or your local emergency "
            "services."
        ),
        "plan.title": "Your care plan",
        "plan.what_matters": "What matters to you",
        "plan.goals": "Your goals",
        "plan.goals_intro": "In your own words:",
        "plan.team_goals_intro": "Suggested by your care team, for you to talk over together:",
        "plan.soon": "soon",
        "plan.no_goals": "You and your team have not written down goals yet.",
        "plan.goal_review": "Next check on this goal: {date}",
        "plan.team": "Your care team",
        "plan.lead": "leads your care team",
        "plan.no_team": "Your care team has not been set up yet.",
        "plan.next_review": "Next review",
        "plan.next_review_on": "Your team will next look at your goals with you on {date}.",
        "plan.next_review_soon": "Your team will look at your goals with you soon.",
        "plan.no_review": "No review date has been set yet.",
        "plan.questions": "Questions about your plan? Ask anyone on your care team.",
        "opt_out.title": "Stop messages",
        "opt_out.body": (
            "If you stop messages, {clinic} will no longer send you check-ins or reminders "
            "by email or text message. Your care does not change, and you can ask your care "
            "team to start them again at any time."
        ),
        "opt_out.button": "Stop messages",
        "opt_out.done_title": "Messages stopped",
        "opt_out.done_body": (
            "You will not get any more messages from {clinic}. Your care does not change. "
            "If you change your mind, tell your care team."
        ),
        "refused.used.title": "This link has already been used",
        "refused.used.body": (
            "Each link works once, and this one has already been used. If you have "
            "something to tell your care team, please contact your clinic."
        ),
        "refused.expired.title": "This link has expired",
        "refused.expired.body": (
            "Links work for a limited time, and this one has run out. Your care team will "
            "send a new one when the next check-in is due. You can also contact your clinic."
        ),
        "refused.closed.title": "This check-in is closed",
        "refused.closed.body": (
            "This check-in is no longer open. Your care team will send a new link when the "
            "next one is due."
        ),
        "refused.invalid.title": "This link isn't valid",
        "refused.invalid.body": (
            "Please check that you opened the whole link from your message. If it still does "
            "not work, please contact your clinic."
        ),
        "error.title": "Something went wrong",
        "error.body": (
            "We could not open this page just now. Nothing was changed. Please try again in a "
            "few minutes."
        ),
        "footer": "This page is private to you. Please do not share its link.",
    },
    "es": {
        "hello": "Hola, {name}",
        "skip": "Ir a las preguntas",
        "check_in.title": "¿Cómo le va?",
        "check_in.intro": (
            "Le tomará unos dos minutos. Sus respuestas llegan a su equipo de atención y le "
            "ayudan a cuidarle. No hay respuestas correctas ni incorrectas."
        ),
        "check_in.about": "Estas preguntas son sobre su atención con {clinician}.",
        "check_in.about_team": "Estas preguntas son sobre su atención con su equipo.",
        "check_in.pain_heading": "Su dolor durante la última semana",
        "check_in.alliance_heading": "Trabajar juntos",
        "check_in.required": "Por favor, conteste todas las preguntas.",
        "check_in.scale_hint": "{low_value} significa «{low}». {high_value} significa «{high}».",
        "check_in.submit": "Enviar mis respuestas",
        "check_in.errors_title": "Faltan algunas respuestas",
        "check_in.error_item": "Por favor, elija una respuesta para esta pregunta.",
        "check_in.question_of": "Pregunta {number}",
        "check_in.stop": "¿Prefiere no recibir estos mensajes? Puede dejar de recibirlos aquí.",
        "thanks.title": "Gracias, {name}",
        "thanks.body": (
            "Sus respuestas se enviaron a su equipo de atención. Ya puede cerrar esta página."
        ),
        "thanks.urgent": (
            "Si necesita ayuda ahora, comuníquese con su clínica o con los servicios de "
            "emergencia de su zona."
        ),
        "plan.title": "Su plan de atención",
        "plan.what_matters": "Lo que le importa",
        "plan.goals": "Sus metas",
        "plan.goals_intro": "En sus propias palabras:",
        "plan.team_goals_intro": "Sugeridas por su equipo de atención, para hablarlas juntos:",
        "plan.soon": "pronto",
        "plan.no_goals": "Usted y su equipo todavía no han escrito sus metas.",
        "plan.goal_review": "Próxima revisión de esta meta: {date}",
        "plan.team": "Su equipo de atención",
        "plan.lead": "coordina su equipo de atención",
        "plan.no_team": "Su equipo de atención todavía no está listo.",
        "plan.next_review": "Próxima revisión",
        "plan.next_review_on": "Su equipo revisará sus metas con usted el {date}.",
        "plan.next_review_soon": "Su equipo revisará sus metas con usted pronto.",
        "plan.no_review": "Todavía no hay fecha de revisión.",
        "plan.questions": (
            "¿Tiene preguntas sobre su plan? Pregunte a cualquier persona de su equipo."
        ),
        "opt_out.title": "Dejar de recibir mensajes",
        "opt_out.body": (
            "Si deja de recibir mensajes, {clinic} ya no le enviará preguntas ni recordatorios "
            "por correo electrónico o mensaje de texto. Su atención no cambia, y puede pedir "
            "a su equipo que vuelva a enviarlos cuando quiera."
        ),
        "opt_out.button": "Dejar de recibir mensajes",
        "opt_out.done_title": "Ya no recibirá mensajes",
        "opt_out.done_body": (
            "{clinic} ya no le enviará mensajes. Su atención no cambia. Si cambia de opinión, "
            "dígaselo a su equipo de atención."
        ),
        "refused.used.title": "Este enlace ya se usó",
        "refused.used.body": (
            "Cada enlace funciona una sola vez, y este ya se usó. Si quiere decirle algo a su "
            "equipo de atención, comuníquese con su clínica."
        ),
        "refused.expired.title": "Este enlace ya venció",
        "refused.expired.body": (
            "Los enlaces funcionan por un tiempo limitado, y este ya venció. Su equipo le "
            "enviará uno nuevo cuando toque la próxima consulta. También puede comunicarse "
            "con su clínica."
        ),
        "refused.closed.title": "Estas preguntas ya están cerradas",
        "refused.closed.body": (
            "Estas preguntas ya no están abiertas. Su equipo le enviará un nuevo enlace "
            "cuando toque la próxima vez."
        ),
        "refused.invalid.title": "Este enlace no es válido",
        "refused.invalid.body": (
            "Revise que abrió el enlace completo de su mensaje. Si sigue sin funcionar, "
            "comuníquese con su clínica."
        ),
        "error.title": "Algo salió mal",
        "error.body": (
            "No pudimos abrir esta página en este momento. No se cambió nada. Vuelva a "
            "intentarlo en unos minutos."
        ),
        "footer": "Esta página es solo para usted. Por favor, no comparta su enlace.",
    },
}


def text(language: str, key: str, **values: object) -> str:
    template = STRINGS[language_of(language)].get(key) or STRINGS[DEFAULT_LANGUAGE][key]
    return template.format(**values) if values else template


class Translator:
    """`t("key", name=...)` in templates, for one language."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)

    def __call__(self, key: str, **values: object) -> str:
        return text(self.language, key, **values)


# --- Disciplines in plain words ------------------------------------------------------------

DISCIPLINES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "physician": "Doctor",
        "physical_therapist": "Physical therapist (exercise and movement)",
        "psychologist": "Psychologist (coping with pain, mood and stress)",
        "acupuncturist": "Acupuncturist",
        "administration": "Care coordinator",
    },
    "es": {
        "physician": "Médico o médica",
        "physical_therapist": "Fisioterapeuta (ejercicio y movimiento)",
        "psychologist": "Psicólogo o psicóloga (cómo sobrellevar el dolor, el ánimo y el estrés)",
        "acupuncturist": "Acupunturista",
        "administration": "Coordinación de la atención",
    },
}


def discipline(language: str, code: str, clinic_names: dict[str, str]) -> str:
    """A discipline in plain words: ours for the standard ones, else the clinic's own
    name for it (clinic-defined disciplines are named by the clinic, in its language)."""
    return (
        DISCIPLINES[language_of(language)].get(code)
        or clinic_names.get(code)
        or code.replace("_", " ").capitalize()
    )


# --- Dates ---------------------------------------------------------------------------------

_MONTHS_ES: Final = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)
_DAYS_ES: Final = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_MONTHS_EN: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_DAYS_EN: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def long_date(language: str, day: dt.date) -> str:
    """`Tuesday, December 15, 2026` / `martes, 15 de diciembre de 2026`."""
    if language_of(language) == "es":
        return f"{_DAYS_ES[day.weekday()]}, {day.day} de {_MONTHS_ES[day.month - 1]} de {day.year}"
    return f"{_DAYS_EN[day.weekday()]}, {_MONTHS_EN[day.month - 1]} {day.day}, {day.year}"


# --- The PEG in Spanish (Concord's translation; not a validated one) ----------------------

PEG_ES: Final[dict[str, str]] = {
    "pain": "¿Qué número describe mejor su dolor, en promedio, durante la última semana?",
    "enjoyment": (
        "¿Qué número describe mejor cuánto ha interferido el dolor con su capacidad de "
        "disfrutar de la vida durante la última semana?"
    ),
    "activity": (
        "¿Qué número describe mejor cuánto ha interferido el dolor con su actividad general "
        "durante la última semana?"
    ),
}
PEG_ANCHORS_ES: Final[dict[str, dict[str, str]]] = {
    "pain": {"0": "Sin dolor", "10": "El peor dolor que se pueda imaginar"},
    "enjoyment": {"0": "No interfiere", "10": "Interfiere por completo"},
    "activity": {"0": "No interfiere", "10": "Interfiere por completo"},
}

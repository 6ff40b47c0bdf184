"""What patients receive: short, warm, person-first messages in their language, showing
only their first name, with a link to a page where they answer."""

from __future__ import annotations

import uuid

from domain.message import Channel, Message
from domain.patient import Patient
from domain.template import MessageTemplate

_CHECK_IN = {
    "en": {
        "subject": "How is our work together going?",
        "body": (
            "Hi {first_name},\n\n"
            "Your care team would like to hear how things are going: your pain this week, "
            "and how your work with {clinician} feels. It takes about two minutes.\n\n"
            "{url}\n\n"
            "The link works once and for 7 days. If you would rather not get these "
            "messages, you can say so on that page.\n\n"
            "Your care team"
        ),
    },
    "es": {
        "subject": "¿Cómo va nuestro trabajo juntos?",
        "body": (
            "Hola, {first_name}:\n\n"
            "Su equipo de atención quiere saber cómo le va: su dolor esta semana y cómo se "
            "siente trabajando con {clinician}. Toma unos dos minutos.\n\n"
            "{url}\n\n"
            "El enlace funciona una vez y durante 7 días. Si prefiere no recibir estos "
            "mensajes, puede indicarlo en esa página.\n\n"
            "Su equipo de atención"
        ),
    },
}


def check_in_email(patient: Patient, address: str, clinician: str, url: str,
                   key: str, care_plan_id: uuid.UUID,
                   template: MessageTemplate | None = None) -> Message:
    """The clinic's own wording when it has one for the patient's language, else ours."""
    texts = _CHECK_IN.get(patient.language, _CHECK_IN["en"])
    default = MessageTemplate(kind="check-in", language=patient.language,
                              subject=texts["subject"], body_text=texts["body"])
    subject, body = (template or default).render(first_name=patient.given_name,
                                                 clinician=clinician, url=url)
    return Message(
        id=uuid.uuid4(), clinic_id=patient.clinic_id, patient_id=patient.id,
        care_plan_id=care_plan_id, kind="check-in", channel=Channel.EMAIL, recipient=address,
        subject=subject, body_text=body, idempotency_key=key)


_REVIEW = {
    "en": {
        "subject": "Your goals will be reviewed soon",
        "intro": "Hi {first_name},\n\nSoon you and your care team will look together at how "
                 "these goals are going:\n",
        "outro": "\nYou can see your plan here:\n{url}\n\nThink about what has gone well and "
                 "what has been hard; your view matters most.\n\nYour care team",
    },
    "es": {
        "subject": "Pronto revisaremos sus metas",
        "intro": "Hola, {first_name}:\n\nPronto usted y su equipo de atención verán juntos "
                 "cómo van estas metas:\n",
        "outro": "\nPuede ver su plan aquí:\n{url}\n\nPiense en lo que ha ido bien y en lo que "
                 "ha sido difícil; su opinión es lo más importante.\n\nSu equipo de atención",
    },
}


def review_reminder_email(patient: Patient, address: str, goals: list[tuple[str, str]],
                          url: str, key: str) -> Message:
    """One message for every goal due for review soon (merged: one a day), each in the
    patient's own words with its review date."""
    texts = _REVIEW.get(patient.language, _REVIEW["en"])
    lines = "".join(f"\n  - {description} ({when})" for description, when in goals)
    body = (texts["intro"].format(first_name=patient.given_name) + lines + "\n"
            + texts["outro"].format(url=url))
    return Message(id=uuid.uuid4(), clinic_id=patient.clinic_id, patient_id=patient.id,
                   kind="goal-review-reminder", channel=Channel.EMAIL, recipient=address,
                   subject=texts["subject"], body_text=body, idempotency_key=key)

"""What patients receive: short, warm, person-first messages in their language, showing
only their first name, with a link to a page where they answer."""

from __future__ import annotations

import uuid

from domain.message import Channel, Message
from domain.patient import Patient

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
                   key: str, care_plan_id: uuid.UUID) -> Message:
    texts = _CHECK_IN.get(patient.language, _CHECK_IN["en"])
    return Message(
        id=uuid.uuid4(), clinic_id=patient.clinic_id, patient_id=patient.id,
        care_plan_id=care_plan_id, kind="check-in", channel=Channel.EMAIL, recipient=address,
        subject=texts["subject"],
        body_text=texts["body"].format(first_name=patient.given_name, clinician=clinician,
                                       url=url),
        idempotency_key=key)

"""The subscription topics Concord offers, and the canonical URLs of the Subscriptions R5
Backport IG (hl7.org/fhir/uv/subscriptions-backport) that an R4 topic-based subscription
and its notifications carry."""

from __future__ import annotations

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
BACKPORT_SUBSCRIPTION = f"{BACKPORT}/backport-subscription"
FILTER_CRITERIA = f"{BACKPORT}/backport-filter-criteria"
PAYLOAD_CONTENT = f"{BACKPORT}/backport-payload-content"
HEARTBEAT_PERIOD = f"{BACKPORT}/backport-heartbeat-period"
TIMEOUT = f"{BACKPORT}/backport-timeout"
MAX_COUNT = f"{BACKPORT}/backport-max-count"
STATUS_PROFILE = f"{BACKPORT}/backport-subscription-status-r4"
NOTIFICATION_PROFILE = f"{BACKPORT}/backport-subscription-notification-r4"
TOPIC_CANONICAL = f"{BACKPORT}/capabilitystatement-subscriptiontopic-canonical"

# topic name (the last part of its canonical) -> the resource type it is about. Each
# topic fires on every create, update and delete of that type; a subscription narrows it
# with filter criteria and, optionally, the elements whose change it cares about.
TOPICS: dict[str, str] = {
    "careplan-changes": "CarePlan",
    "goal-changes": "Goal",
    "medicationstatement-changes": "MedicationStatement",
}
_PATH = "/SubscriptionTopic/"


def topic_url(fhir_base: str, name: str) -> str:
    """The canonical of topic `name` on the server whose FHIR base is `fhir_base`."""
    return f"{fhir_base.rstrip('/')}{_PATH}{name}"


def topic_urls(fhir_base: str) -> list[str]:
    return [topic_url(fhir_base, name) for name in TOPICS]


def topic_name(canonical: str) -> str | None:
    """The name of the Concord topic `canonical` points to (a `|version` suffix allowed),
    or None. The host is not checked: the same topic is reached through every name the
    server answers to (a proxy, an internal address)."""
    url = canonical.split("|", 1)[0]
    if not url.startswith(("http://", "https://")) or _PATH not in url:
        return None
    name = url.rsplit(_PATH, 1)[1]
    return name if name in TOPICS else None

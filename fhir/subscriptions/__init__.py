"""FHIR Subscriptions (rest-hook): classic R4 criteria and the R4 flavour of the R5
topic-based backport, matched against the store's change feed and delivered through an
outbox of notifications (subscription_notifications), in order, signed."""

"""SMART Backend Services: EHRs and other systems authenticate with a signed JWT
(client credentials, private_key_jwt) and get a short-lived bearer token limited by
SMART scopes (https://hl7.org/fhir/smart-app-launch/backend-services.html)."""

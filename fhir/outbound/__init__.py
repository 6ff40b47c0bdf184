"""What Concord sends to other FHIR servers (a clinic's EHR)."""

"""`python -m service import-fhir`: load FHIR R4 files (Synthea patient Bundles, FHIR
Bulk Data NDJSON, collection/batch/searchset Bundles) into a clinic through the same
write path as /fhir, once: a re-run of the same files changes nothing."""

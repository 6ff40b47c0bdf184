"""Instruments as data: questionnaires are FHIR Questionnaire definitions, scored here.

* `questionnaire`: the typed part of a FHIR Questionnaire Concord needs (items, the score of
  each answer, the terms of use), loading of the built-in definitions shipped in `data/` and
  of a clinic's own, loading of licensed item texts by a clinic, and availability.
* `peg`: the PEG three-item pain scale (Krebs et al. 2009), scored as published.
* `alliance`: the Working Alliance Inventory - Short Revised (Hatcher & Gillaspy 2006),
  scored as published.

`data/TERMS.md` records, for each built-in instrument, the terms of use found and what was
shipped accordingly: item texts only where the terms allow this use.
"""

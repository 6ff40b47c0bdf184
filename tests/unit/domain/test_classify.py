from __future__ import annotations

import pytest

from domain.opioids.classify import Kind, kind_of


@pytest.mark.parametrize(("display", "in_table", "kind"), [
    ("oxycodone hydrochloride 5 MG Oral Tablet", True, Kind.OPIOID),
    ("Oxycodone 5 mg tablet (new formulary code)", False, Kind.OPIOID),
    ("buprenorphine 8 MG / naloxone 2 MG Sublingual Film", False, Kind.OPIOID),
    ("naloxone hydrochloride 4 MG/ACTUAT Nasal Spray", False, Kind.NALOXONE),
    ("alprazolam 0.5 MG Oral Tablet", False, Kind.BENZODIAZEPINE),
    ("clonazepam 1 MG Oral Tablet", False, Kind.BENZODIAZEPINE),
    ("gabapentin 300 MG Oral Capsule", False, Kind.OTHER),
    ("duloxetine 60 MG Delayed Release Oral Capsule", False, Kind.OTHER),
])
def test_statements_are_sorted_by_what_they_contain(display: str, in_table: bool,
                                                     kind: Kind) -> None:
    assert kind_of(display, in_table) is kind

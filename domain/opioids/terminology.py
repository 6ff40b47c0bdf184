"""Which RxNorm products are opioids, and how much opioid each unit holds.

The table is `data/opioid_products.csv`: one row per RxNorm clinical drug (term type SCD)
or branded drug (SBD), copied code for code and name for name from the CDC Opioid
Prescribing Support Implementation Guide's value set "Opioid analgesics with ambulatory
misuse potential" (http://fhir.org/guides/cdc/opioid-cds/ValueSet/opioid-analgesics-with-ambulatory-misuse-potential),
in two published expansions:

* `cdc-oaamp-2023-03`: expansion of 2023-05-25 against RxNorm 2023-03, as committed in
  github.com/cqframework/opioid-cds-r4 (commit 1c0624c1cdb5ddf6aa2043144d9bfbc125ae5072);
* `cdc-oaamp-2025-02`: expansion of 2025-02-24 (RxNorm of 2024-03-04, per the guide's companion
  value sets), as committed in github.com/HL7/cdc-opioid-cpg
  (commit 2fa1cba828683e0f859d9337c65d84d70dfa7fb5).

`data/SOURCE.md` has the exact paths, what was left out and why, and how the rows were
checked. The CSV keeps only what the source says (RXCUI, name, which expansion); everything
else -- ingredient, strength, unit, dose form, long-acting, transdermal -- is read from the
RxNorm normalized name by `parse_rxnorm_name` below, strictly: a name it does not fully
understand is an error at load, never a silently dropped row.

Long-acting follows the CDC's own rule for its companion value set "Extended release opioid
with ambulatory misuse potential" (an Extended Release dose form, a transdermal system, or
methadone), plus the buprenorphine drug implant.
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources

from domain.opioids.products import OpioidProduct

SOURCES: dict[str, str] = {
    "cdc-oaamp-2023-03": (
        "CDC value set 'Opioid analgesics with ambulatory misuse potential', expansion "
        "2023-05-25 (RxNorm 2023-03), github.com/cqframework/opioid-cds-r4 @ 1c0624c1"
    ),
    "cdc-oaamp-2025-02": (
        "CDC value set 'Opioid analgesics with ambulatory misuse potential', expansion "
        "2025-02-24, github.com/HL7/cdc-opioid-cpg @ 2fa1cba8"
    ),
}
"""The source ids the CSV's `source` column may name (`;`-separated)."""

INGREDIENTS: frozenset[str] = frozenset({
    "codeine", "dihydrocodeine", "fentanyl", "hydrocodone", "hydromorphone", "levorphanol",
    "meperidine", "methadone", "morphine", "oxycodone", "oxymorphone", "pentazocine",
    "tapentadol", "tramadol",
    "buprenorphine",
})
"""The opioids of the CDC 2022 MME conversion table, by its names, plus buprenorphine
(which MME leaves out but which is an opioid all the same)."""

STRENGTH_UNITS: frozenset[str] = frozenset({"mg", "mg/mL", "mcg/h"})

DATA_FILE = "opioid_products.csv"
CSV_HEADER = ("rxcui", "tty", "name", "source")

# The substance as RxNorm names it (salt included) -> the ingredient as the CDC table does.
_OPIOID_SUBSTANCES: dict[str, str] = {
    "buprenorphine": "buprenorphine",
    "codeine phosphate": "codeine",
    "codeine sulfate": "codeine",
    "dihydrocodeine bitartrate": "dihydrocodeine",
    "fentanyl": "fentanyl",
    "hydrocodone bitartrate": "hydrocodone",
    "hydromorphone hydrochloride": "hydromorphone",
    "levorphanol tartrate": "levorphanol",
    "meperidine hydrochloride": "meperidine",
    "methadone hydrochloride": "methadone",
    "morphine sulfate": "morphine",
    "oxycodone": "oxycodone",
    "oxycodone hydrochloride": "oxycodone",
    "oxycodone terephthalate": "oxycodone",
    "oxymorphone hydrochloride": "oxymorphone",
    "pentazocine": "pentazocine",
    "tapentadol": "tapentadol",
    "tramadol hydrochloride": "tramadol",
}

# Every non-opioid component the table's combination products carry. Anything else is an
# error: an unknown substance might be an opioid this parser does not know.
_OTHER_SUBSTANCES: frozenset[str] = frozenset({
    "acetaminophen", "aspirin", "butalbital", "caffeine", "carisoprodol", "celecoxib",
    "ibuprofen", "kaolin", "naloxone", "naltrexone hydrochloride",
})


class _Kind(enum.Enum):
    SOLID = "per unit"  # strength in MG per tablet, capsule, film, suppository, implant
    LIQUID = "per mL"  # strength in MG/ML
    PATCH = "per hour"  # strength in MG/HR
    SPRAY = "per actuation"  # strength in MG/ACTUAT


_DOSE_FORMS: dict[str, _Kind] = {
    "Oral Tablet": _Kind.SOLID,
    "Oral Capsule": _Kind.SOLID,
    "Extended Release Oral Tablet": _Kind.SOLID,
    "Extended Release Oral Capsule": _Kind.SOLID,
    "Disintegrating Oral Tablet": _Kind.SOLID,
    "Effervescent Oral Tablet": _Kind.SOLID,
    "Tablet for Oral Suspension": _Kind.SOLID,
    "Sublingual Tablet": _Kind.SOLID,
    "Sublingual Film": _Kind.SOLID,
    "Buccal Tablet": _Kind.SOLID,
    "Buccal Film": _Kind.SOLID,
    "Oral Lozenge": _Kind.SOLID,
    "Rectal Suppository": _Kind.SOLID,
    "Drug Implant": _Kind.SOLID,
    "Oral Solution": _Kind.LIQUID,
    "Oral Suspension": _Kind.LIQUID,
    "Topical Solution": _Kind.LIQUID,
    "Transdermal System": _Kind.PATCH,
    "Metered Dose Nasal Spray": _Kind.SPRAY,
    "Mucosal Spray": _Kind.SPRAY,
}
DOSE_FORMS: frozenset[str] = frozenset(_DOSE_FORMS)

# RxNorm unit in the name -> (the kind of dose form it belongs to, our unit, factor).
_UNITS: dict[str, tuple[_Kind, str, Decimal]] = {
    "MG": (_Kind.SOLID, "mg", Decimal(1)),
    "MG/ML": (_Kind.LIQUID, "mg/mL", Decimal(1)),
    "MG/HR": (_Kind.PATCH, "mcg/h", Decimal(1000)),  # 0.025 MG/HR is a 25 mcg/h patch
    "MG/ACTUAT": (_Kind.SPRAY, "mg", Decimal(1)),  # per spray
}

_PREFIX = re.compile(r"(?:Abuse-Deterrent|Matrix Delivery|(?P<hours>\d+) HR) ")
_BRAND = re.compile(r" \[(?P<brand>[^\[\]]+)\]$")
_AMOUNT = r"(?P<amount>\d+(?:\.\d+)?)"
_UNIT = r"(?P<unit>MG(?:/ML|/HR|/ACTUAT)?)"
_COMPONENT = re.compile(rf"(?P<substance>[a-z]+(?: [a-z]+)*) {_AMOUNT} {_UNIT}")
_LAST_COMPONENT = re.compile(
    rf"(?P<substance>[a-z]+(?: [a-z]+)*) {_AMOUNT} {_UNIT} (?P<form>[A-Z][A-Za-z ]*)"
)


class TerminologyError(ValueError):
    """The shipped table, or a name in it, is not what this module can vouch for."""


@dataclass(frozen=True)
class ParsedName:
    """What an RxNorm SCD/SBD name says about its opioid."""

    ingredient: str
    strength: float
    strength_unit: str
    dose_form: str
    term_type: str
    long_acting: bool
    transdermal: bool


def parse_rxnorm_name(name: str) -> ParsedName:
    """Read ingredient, opioid strength per unit, unit and dose form from an RxNorm name.

    `acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet` -> hydrocodone 5 mg;
    `72 HR fentanyl 0.025 MG/HR Transdermal System` -> fentanyl 25 mcg/h. Raises
    `TerminologyError` for anything it does not fully understand.
    """
    rest = name
    hours: list[int] = []
    while prefix := _PREFIX.match(rest):
        if prefix["hours"] is not None:
            hours.append(int(prefix["hours"]))
        rest = rest[prefix.end() :]
    term_type = "SCD"
    if brand := _BRAND.search(rest):
        term_type = "SBD"
        rest = rest[: brand.start()]
    if "[" in rest or "]" in rest or "{" in rest:
        raise TerminologyError(f"not a single clinical or branded drug: {name!r}")

    parts = rest.split(" / ")
    components: list[tuple[str, Decimal, str]] = []
    dose_form = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        component = (_LAST_COMPONENT if last else _COMPONENT).fullmatch(part)
        if component is None:
            raise TerminologyError(f"cannot read component {part!r} of {name!r}")
        try:
            amount = Decimal(component["amount"])
        except InvalidOperation as exc:  # pragma: no cover - the regex admits digits only
            raise TerminologyError(f"bad amount in {name!r}") from exc
        if amount <= 0:
            raise TerminologyError(f"non-positive strength in {name!r}")
        components.append((component["substance"], amount, component["unit"]))
        if last:
            dose_form = component["form"]

    kind = _DOSE_FORMS.get(dose_form)
    if kind is None:
        raise TerminologyError(f"unknown dose form {dose_form!r} in {name!r}")

    ingredients: set[str] = set()
    total = Decimal(0)
    unit = ""
    for substance, amount, rx_unit in components:
        unit_kind, unit, factor = _UNITS[rx_unit]
        if unit_kind is not kind:
            raise TerminologyError(
                f"unit {rx_unit} does not fit dose form {dose_form!r}: {name!r}"
            )
        if substance in _OPIOID_SUBSTANCES:
            ingredients.add(_OPIOID_SUBSTANCES[substance])
            # Two salts of one opioid (oxycodone hydrochloride + terephthalate) add up.
            total += amount * factor
        elif substance not in _OTHER_SUBSTANCES:
            raise TerminologyError(f"unknown substance {substance!r} in {name!r}")
    if len(ingredients) != 1:
        found = sorted(ingredients)
        raise TerminologyError(f"expected exactly one opioid, found {found}: {name!r}")
    (ingredient,) = ingredients

    transdermal = kind is _Kind.PATCH
    long_acting = (
        dose_form.startswith("Extended Release")
        or transdermal
        or ingredient == "methadone"
        or dose_form == "Drug Implant"
    )
    if hours and not long_acting:
        raise TerminologyError(f"a {hours[0]} HR product that is not long-acting: {name!r}")
    if transdermal and not hours:
        raise TerminologyError(f"a transdermal system without a wear time: {name!r}")

    strength = float(total)
    if not (math.isfinite(strength) and strength > 0):  # pragma: no cover - checked above
        raise TerminologyError(f"bad strength in {name!r}")
    return ParsedName(
        ingredient=ingredient,
        strength=strength,
        strength_unit=unit,
        dose_form=dose_form,
        term_type=term_type,
        long_acting=long_acting,
        transdermal=transdermal,
    )


def product_from_row(rxcui: str, tty: str, name: str, source: str) -> OpioidProduct:
    """One CSV row, checked and parsed; raises `TerminologyError` naming the row."""
    if not (rxcui.isascii() and rxcui.isdigit()) or len(rxcui) > 10 or rxcui.startswith("0"):
        raise TerminologyError(f"not an RXCUI: {rxcui!r}")
    source_ids = source.split(";")
    unknown = [s for s in source_ids if s not in SOURCES]
    if unknown or len(set(source_ids)) != len(source_ids):
        raise TerminologyError(f"RXCUI {rxcui}: unknown or repeated source {source!r}")
    if name != name.strip() or "  " in name:
        raise TerminologyError(f"RXCUI {rxcui}: stray whitespace in {name!r}")
    try:
        parsed = parse_rxnorm_name(name)
    except TerminologyError as exc:
        raise TerminologyError(f"RXCUI {rxcui}: {exc}") from exc
    if tty != parsed.term_type:
        raise TerminologyError(
            f"RXCUI {rxcui}: tty {tty!r} but the name reads as {parsed.term_type}"
        )
    return OpioidProduct(
        rxcui=rxcui,
        name=name,
        ingredient=parsed.ingredient,
        strength=parsed.strength,
        strength_unit=parsed.strength_unit,
        dose_form=parsed.dose_form,
        term_type=parsed.term_type,
        long_acting=parsed.long_acting,
        transdermal=parsed.transdermal,
    )


class OpioidTerminology:
    """The opioid products by RXCUI."""

    def __init__(self, products: Iterable[OpioidProduct]) -> None:
        by_rxcui: dict[str, OpioidProduct] = {}
        for product in products:
            if product.rxcui in by_rxcui:
                raise TerminologyError(f"RXCUI {product.rxcui} is listed twice")
            by_rxcui[product.rxcui] = product
        self._by_rxcui = by_rxcui

    @classmethod
    def from_csv(cls, text: str) -> OpioidTerminology:
        """Parse the CSV; any bad row raises `TerminologyError` with its line number."""
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if header is None or tuple(header) != CSV_HEADER:
            raise TerminologyError(f"header must be {','.join(CSV_HEADER)}, got {header!r}")
        products: list[OpioidProduct] = []
        for row in reader:
            line = reader.line_num
            if len(row) != len(CSV_HEADER):
                raise TerminologyError(
                    f"line {line}: expected {len(CSV_HEADER)} fields, got {row!r}"
                )
            try:
                products.append(product_from_row(*row))
            except TerminologyError as exc:
                raise TerminologyError(f"line {line}: {exc}") from exc
        if not products:
            raise TerminologyError("the table is empty")
        return cls(products)

    def lookup(self, rxcui: str) -> OpioidProduct | None:
        """The product with this RXCUI, or None when it is not an opioid the table knows."""
        return self._by_rxcui.get(rxcui.strip())

    def __contains__(self, rxcui: object) -> bool:
        return isinstance(rxcui, str) and rxcui.strip() in self._by_rxcui

    def __len__(self) -> int:
        return len(self._by_rxcui)

    def __iter__(self) -> Iterator[OpioidProduct]:
        return iter(self._by_rxcui.values())


def read_data_file(filename: str = DATA_FILE) -> str:
    return (resources.files("domain.opioids") / "data" / filename).read_text(encoding="utf-8")


@functools.cache
def load_terminology() -> OpioidTerminology:
    """The shipped table, read and checked once per process."""
    return OpioidTerminology.from_csv(read_data_file())

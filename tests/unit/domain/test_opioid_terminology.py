"""The opioid terminology: sourced codes, strict parsing, the products a pain clinic sees."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter

import pytest

from domain.opioids.products import OpioidProduct
from domain.opioids.terminology import (
    CSV_HEADER,
    DOSE_FORMS,
    INGREDIENTS,
    SOURCES,
    STRENGTH_UNITS,
    OpioidTerminology,
    TerminologyError,
    load_terminology,
    parse_rxnorm_name,
    read_data_file,
)

TABLE = load_terminology()
HEADER = ",".join(CSV_HEADER) + "\n"

# ---------------------------------------------------------------- the shipped file


def raw_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_data_file(), newline="")))


def test_loads_every_row_of_the_shipped_file() -> None:
    rows = raw_rows()
    assert len(TABLE) == len(rows) == 538
    assert {p.rxcui for p in TABLE} == {r["rxcui"] for r in rows}


def test_the_file_has_no_duplicate_rxcui() -> None:
    counts = Counter(r["rxcui"] for r in raw_rows())
    assert [rxcui for rxcui, n in counts.items() if n > 1] == []


def test_every_row_names_a_known_source() -> None:
    for row in raw_rows():
        assert row["source"], row
        assert set(row["source"].split(";")) <= SOURCES.keys(), row


def test_source_md_documents_every_source_and_commit() -> None:
    text = read_data_file("SOURCE.md")
    for source_id in (*SOURCES, "cdc-eroamp-2023-03"):
        assert source_id in text
    for commit in (
        "1c0624c1cdb5ddf6aa2043144d9bfbc125ae5072",
        "2fa1cba828683e0f859d9337c65d84d70dfa7fb5",
        "0e86413f6081bd80a56187b94f60ba1c562a5435",
    ):
        assert commit in text


def test_load_is_done_once() -> None:
    assert load_terminology() is load_terminology()


# ---------------------------------------------------------------- every row is sound


@pytest.mark.parametrize("product", list(TABLE), ids=lambda p: p.rxcui)
def test_every_row_is_sound(product: OpioidProduct) -> None:
    assert product.rxcui.isdigit() and not product.rxcui.startswith("0")
    assert product.ingredient in INGREDIENTS
    assert math.isfinite(product.strength) and product.strength > 0
    assert product.strength_unit in STRENGTH_UNITS
    assert product.dose_form in DOSE_FORMS
    assert product.dose_form in product.name
    assert product.term_type in ("SCD", "SBD")
    assert (product.term_type == "SBD") == product.name.endswith("]")
    assert (product.strength_unit == "mcg/h") == product.transdermal
    assert (product.dose_form == "Transdermal System") == product.transdermal
    if product.transdermal:
        assert product.long_acting
    if product.strength_unit == "mg/mL":
        assert product.dose_form.endswith(("Solution", "Suspension"))
        assert not product.dose_form.startswith("Tablet")
    if "Extended Release" in product.dose_form or product.ingredient == "methadone":
        assert product.long_acting


def test_the_ingredients_are_the_cdc_table_plus_buprenorphine() -> None:
    assert {p.ingredient for p in TABLE} == INGREDIENTS
    assert len(INGREDIENTS) == 15


MIN_ROWS_PER_INGREDIENT = {
    "buprenorphine": 60,
    "codeine": 37,
    "dihydrocodeine": 17,
    "fentanyl": 70,
    "hydrocodone": 75,
    "hydromorphone": 20,
    "levorphanol": 2,
    "meperidine": 5,
    "methadone": 15,
    "morphine": 78,
    "oxycodone": 95,
    "oxymorphone": 10,
    "pentazocine": 5,
    "tapentadol": 17,
    "tramadol": 32,
}


@pytest.mark.parametrize("ingredient", sorted(MIN_ROWS_PER_INGREDIENT))
def test_minimum_rows_per_ingredient(ingredient: str) -> None:
    count = sum(1 for p in TABLE if p.ingredient == ingredient)
    assert count >= MIN_ROWS_PER_INGREDIENT[ingredient]


def test_long_acting_agrees_with_the_cdc_extended_release_value_set() -> None:
    """The CDC's own ER value set (2023-03) against our flag, row by row.

    Known, documented differences: the buprenorphine implant is long-acting here but not in
    that set; the Ionsys fentanyl system is in that set but not in the table.
    """
    er = {
        line.strip()
        for line in read_data_file("cdc_extended_release_opioids_2023-03.txt").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert len(er) == 195
    sources = {row["rxcui"]: row["source"].split(";") for row in raw_rows()}
    from_2023 = [p for p in TABLE if "cdc-oaamp-2023-03" in sources[p.rxcui]]
    disagree = {p.rxcui for p in from_2023 if p.long_acting != (p.rxcui in er)}
    assert disagree == {"1797650", "1797655"}  # buprenorphine 74.2 MG Drug Implant (+ Probuphine)
    assert er - {p.rxcui for p in TABLE} == {"1666831", "1666837"}  # Ionsys, excluded


# ---------------------------------------------------------------- required coverage

# (rxcui, ingredient, strength, unit, dose form, long-acting, transdermal, term type).
# Every code here appears in the CDC expansions named in SOURCE.md.
REQUIRED = [
    # oxycodone IR tablets
    ("1049621", "oxycodone", 5, "mg", "Oral Tablet", False, False, "SCD"),
    ("1049683", "oxycodone", 10, "mg", "Oral Tablet", False, False, "SCD"),
    ("1049611", "oxycodone", 15, "mg", "Oral Tablet", False, False, "SCD"),
    ("1049618", "oxycodone", 30, "mg", "Oral Tablet", False, False, "SCD"),
    ("1049623", "oxycodone", 5, "mg", "Oral Tablet", False, False, "SBD"),  # Roxicodone
    # oxycodone ER 12 h
    ("1049502", "oxycodone", 10, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("1049563", "oxycodone", 20, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("1049584", "oxycodone", 40, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("1049504", "oxycodone", 10, "mg", "Extended Release Oral Tablet", True, False, "SBD"),
    ("1049565", "oxycodone", 20, "mg", "Extended Release Oral Tablet", True, False, "SBD"),
    ("1049586", "oxycodone", 40, "mg", "Extended Release Oral Tablet", True, False, "SBD"),
    # oxycodone / acetaminophen
    ("1049221", "oxycodone", 5, "mg", "Oral Tablet", False, False, "SCD"),  # 5/325
    ("1049214", "oxycodone", 10, "mg", "Oral Tablet", False, False, "SCD"),  # 10/325
    ("1049640", "oxycodone", 5, "mg", "Oral Tablet", False, False, "SBD"),  # Percocet 5/325
    # hydrocodone / acetaminophen
    ("857002", "hydrocodone", 5, "mg", "Oral Tablet", False, False, "SCD"),  # 5/325
    ("857005", "hydrocodone", 7.5, "mg", "Oral Tablet", False, False, "SCD"),  # 7.5/325
    ("856999", "hydrocodone", 10, "mg", "Oral Tablet", False, False, "SCD"),  # 10/325
    ("857004", "hydrocodone", 5, "mg", "Oral Tablet", False, False, "SBD"),  # Norco 5/325
    # hydrocodone ER
    ("1860491", "hydrocodone", 10, "mg", "Extended Release Oral Capsule", True, False, "SCD"),
    ("1595730", "hydrocodone", 20, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("1595736", "hydrocodone", 20, "mg", "Extended Release Oral Tablet", True, False, "SBD"),
    # morphine IR tablets
    ("892582", "morphine", 15, "mg", "Oral Tablet", False, False, "SCD"),
    ("892672", "morphine", 30, "mg", "Oral Tablet", False, False, "SCD"),
    # morphine ER
    ("891881", "morphine", 15, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("891888", "morphine", 30, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("891893", "morphine", 60, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("892574", "morphine", 15, "mg", "Extended Release Oral Tablet", True, False, "SBD"),
    # morphine oral solution
    ("894780", "morphine", 4, "mg/mL", "Oral Solution", False, False, "SCD"),
    ("895016", "morphine", 10, "mg/mL", "Oral Solution", False, False, "SCD"),
    ("892625", "morphine", 20, "mg/mL", "Oral Solution", False, False, "SCD"),
    # hydromorphone tablets
    ("897696", "hydromorphone", 2, "mg", "Oral Tablet", False, False, "SCD"),
    ("897702", "hydromorphone", 4, "mg", "Oral Tablet", False, False, "SCD"),
    ("897710", "hydromorphone", 8, "mg", "Oral Tablet", False, False, "SCD"),
    # fentanyl patches
    ("577057", "fentanyl", 12, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("245134", "fentanyl", 25, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("245135", "fentanyl", 50, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("197696", "fentanyl", 75, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("245136", "fentanyl", 100, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("261184", "fentanyl", 25, "mcg/h", "Transdermal System", True, True, "SBD"),  # Duragesic
    # methadone tablets (long-acting, as the CDC ER value set has it)
    ("864718", "methadone", 5, "mg", "Oral Tablet", True, False, "SCD"),
    ("864706", "methadone", 10, "mg", "Oral Tablet", True, False, "SCD"),
    # tramadol
    ("835603", "tramadol", 50, "mg", "Oral Tablet", False, False, "SCD"),
    ("833709", "tramadol", 100, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("849561", "tramadol", 150, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    # tapentadol
    ("825411", "tapentadol", 50, "mg", "Oral Tablet", False, False, "SCD"),
    ("1148809", "tapentadol", 50, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    ("1148797", "tapentadol", 100, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    # codeine / acetaminophen 300/30 (Tylenol #3)
    ("993781", "codeine", 30, "mg", "Oral Tablet", False, False, "SCD"),
    ("993837", "codeine", 30, "mg", "Oral Tablet", False, False, "SBD"),
    # oxymorphone IR / ER
    ("977939", "oxymorphone", 5, "mg", "Oral Tablet", False, False, "SCD"),
    ("977942", "oxymorphone", 10, "mg", "Oral Tablet", False, False, "SCD"),
    ("977874", "oxymorphone", 10, "mg", "Extended Release Oral Tablet", True, False, "SCD"),
    # buprenorphine patches (7-day)
    ("904880", "buprenorphine", 5, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("1542997", "buprenorphine", 7.5, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("904870", "buprenorphine", 10, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("1432969", "buprenorphine", 15, "mcg/h", "Transdermal System", True, True, "SCD"),
    ("904876", "buprenorphine", 20, "mcg/h", "Transdermal System", True, True, "SCD"),
    # buprenorphine / naloxone sublingual: the buprenorphine component only
    ("351266", "buprenorphine", 2, "mg", "Sublingual Tablet", False, False, "SCD"),
    ("351267", "buprenorphine", 8, "mg", "Sublingual Tablet", False, False, "SCD"),
    ("1010600", "buprenorphine", 2, "mg", "Sublingual Film", False, False, "SCD"),
    ("1010604", "buprenorphine", 8, "mg", "Sublingual Film", False, False, "SCD"),
    ("1010606", "buprenorphine", 8, "mg", "Sublingual Film", False, False, "SBD"),  # Suboxone
]


@pytest.mark.parametrize(
    ("rxcui", "ingredient", "strength", "unit", "form", "long_acting", "transdermal", "tty"),
    REQUIRED,
    ids=[row[0] for row in REQUIRED],
)
def test_commonly_prescribed_products(
    rxcui: str,
    ingredient: str,
    strength: float,
    unit: str,
    form: str,
    long_acting: bool,
    transdermal: bool,
    tty: str,
) -> None:
    product = TABLE.lookup(rxcui)
    assert product is not None, rxcui
    assert product.ingredient == ingredient
    assert product.strength == pytest.approx(strength)
    assert product.strength_unit == unit
    assert product.dose_form == form
    assert product.long_acting is long_acting
    assert product.transdermal is transdermal
    assert product.term_type == tty


def test_required_codes_are_distinct() -> None:
    assert len({row[0] for row in REQUIRED}) == len(REQUIRED)


def test_lookup_and_container_protocol() -> None:
    assert TABLE.lookup("1049621") is not None
    assert TABLE.lookup(" 1049621 ") == TABLE.lookup("1049621")
    assert TABLE.lookup("197361") is None  # not in the table
    assert TABLE.lookup("") is None
    assert "245134" in TABLE
    assert 245134 not in TABLE
    assert len(list(TABLE)) == len(TABLE)


def test_excluded_products_are_not_opioids_the_table_knows() -> None:
    for rxcui in (
        "1666831",  # Ionsys, per-activation fentanyl
        "1740007",  # a fentanyl spray pack (GPCK)
        "886634",  # butorphanol nasal spray
        "2118728",  # benzhydrocodone / acetaminophen
        "849279",  # propoxyphene
    ):
        assert TABLE.lookup(rxcui) is None


# ---------------------------------------------------------------- the name parser


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "oxycodone hydrochloride 5 MG Oral Tablet",
            ("oxycodone", 5.0, "mg", "Oral Tablet", "SCD", False, False),
        ),
        (
            "72 HR fentanyl 0.025 MG/HR Transdermal System",
            ("fentanyl", 25.0, "mcg/h", "Transdermal System", "SCD", True, True),
        ),
        (
            "72 HR fentanyl 0.0375 MG/HR Transdermal System",
            ("fentanyl", 37.5, "mcg/h", "Transdermal System", "SCD", True, True),
        ),
        (
            "168 HR buprenorphine 0.0075 MG/HR Transdermal System [BuTrans]",
            ("buprenorphine", 7.5, "mcg/h", "Transdermal System", "SBD", True, True),
        ),
        (
            "morphine sulfate 20 MG/ML Oral Solution",
            ("morphine", 20.0, "mg/mL", "Oral Solution", "SCD", False, False),
        ),
        (
            "acetaminophen 325 MG / hydrocodone bitartrate 7.5 MG Oral Tablet [Norco]",
            ("hydrocodone", 7.5, "mg", "Oral Tablet", "SBD", False, False),
        ),
        (
            "acetaminophen 21.7 MG/ML / hydrocodone bitartrate 0.5 MG/ML Oral Solution",
            ("hydrocodone", 0.5, "mg/mL", "Oral Solution", "SCD", False, False),
        ),
        (
            "acetaminophen 300 MG / butalbital 50 MG / caffeine 40 MG / codeine phosphate 30 MG "
            "Oral Capsule [Fioricet with Codeine]",
            ("codeine", 30.0, "mg", "Oral Capsule", "SBD", False, False),
        ),
        (
            "Abuse-Deterrent morphine sulfate 30 MG / naltrexone hydrochloride 1.2 MG "
            "Extended Release Oral Capsule",
            ("morphine", 30.0, "mg", "Extended Release Oral Capsule", "SCD", True, False),
        ),
        (
            "Matrix Delivery 24 HR tramadol hydrochloride 100 MG Extended Release Oral Tablet",
            ("tramadol", 100.0, "mg", "Extended Release Oral Tablet", "SCD", True, False),
        ),
        (
            "aspirin 325 MG / oxycodone hydrochloride 4.5 MG / oxycodone terephthalate 0.38 MG "
            "Oral Tablet",
            ("oxycodone", 4.88, "mg", "Oral Tablet", "SCD", False, False),
        ),
        (
            "methadone hydrochloride 40 MG Tablet for Oral Suspension [Diskets]",
            ("methadone", 40.0, "mg", "Tablet for Oral Suspension", "SBD", True, False),
        ),
        (
            "fentanyl 0.1 MG/ACTUAT Metered Dose Nasal Spray",
            ("fentanyl", 0.1, "mg", "Metered Dose Nasal Spray", "SCD", False, False),
        ),
        (
            "aspirin 325 MG / oxycodone hydrochloride 4.84 MG Oral Tablet "
            "[Endodan Reformulated May 2009]",
            ("oxycodone", 4.84, "mg", "Oral Tablet", "SBD", False, False),
        ),
    ],
)
def test_parse_rxnorm_name(
    name: str, expected: tuple[str, float, str, str, str, bool, bool]
) -> None:
    parsed = parse_rxnorm_name(name)
    ingredient, strength, unit, form, tty, long_acting, transdermal = expected
    assert parsed.ingredient == ingredient
    assert parsed.strength == pytest.approx(strength)
    assert parsed.strength_unit == unit
    assert parsed.dose_form == form
    assert parsed.term_type == tty
    assert parsed.long_acting is long_acting
    assert parsed.transdermal is transdermal


def test_patch_strength_is_exact_in_mcg_per_hour() -> None:
    for name, mcg_h in [
        ("72 HR fentanyl 0.012 MG/HR Transdermal System", 12.0),
        ("72 HR fentanyl 0.05 MG/HR Transdermal System", 50.0),
        ("72 HR fentanyl 0.0625 MG/HR Transdermal System", 62.5),
        ("72 HR fentanyl 0.0875 MG/HR Transdermal System", 87.5),
        ("72 HR fentanyl 0.1 MG/HR Transdermal System", 100.0),
        ("168 HR buprenorphine 0.005 MG/HR Transdermal System", 5.0),
    ]:
        assert parse_rxnorm_name(name).strength == mcg_h  # exact, not approx


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("{2 (fentanyl 0.6 MG/ACTUAT Mucosal Spray) } Pack", "not a single"),
        ("80 ACTUAT fentanyl 0.04 MG/ACTUAT Transdermal System [Ionsys]", "cannot read"),
        ("acetaminophen 325 MG / benzhydrocodone 4.08 MG Oral Tablet", "unknown substance"),
        ("butorphanol tartrate 1 MG/ACTUAT Metered Dose Nasal Spray", "unknown substance"),
        ("acetaminophen 325 MG Oral Tablet", "exactly one opioid"),
        ("oxycodone hydrochloride 5 MG / morphine sulfate 10 MG Oral Tablet", "exactly one opioid"),
        ("oxycodone hydrochloride 5 MG Chewable Bar", "unknown dose form"),
        ("oxycodone hydrochloride 5 MG Oral Solution", "does not fit"),
        ("oxycodone hydrochloride 5 MG/ML Oral Tablet", "does not fit"),
        ("fentanyl 0.025 MG/HR Oral Tablet", "does not fit"),
        ("72 HR fentanyl 25 MCG/HR Transdermal System", "cannot read"),
        ("fentanyl 0.025 MG/HR Transdermal System", "without a wear time"),
        ("12 HR oxycodone hydrochloride 10 MG Oral Tablet", "not long-acting"),
        ("oxycodone hydrochloride 0 MG Oral Tablet", "non-positive"),
        ("oxycodone hydrochloride MG Oral Tablet", "cannot read"),
        ("oxycodone hydrochloride 5 MG Oral Tablet [Roxicodone] [X]", "not a single"),
        ("Oxycodone Hydrochloride 5 MG Oral Tablet", "cannot read"),
        ("", "cannot read"),
    ],
)
def test_parse_rejects_what_it_does_not_understand(name: str, why: str) -> None:
    with pytest.raises(TerminologyError, match=why):
        parse_rxnorm_name(name)


# ---------------------------------------------------------------- a bad file fails loudly

GOOD_ROW = "1049621,SCD,oxycodone hydrochloride 5 MG Oral Tablet,cdc-oaamp-2023-03\n"


def test_from_csv_accepts_a_good_row() -> None:
    table = OpioidTerminology.from_csv(HEADER + GOOD_ROW)
    assert len(table) == 1
    assert table.lookup("1049621") == TABLE.lookup("1049621")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "header"),
        ("rxcui,name,tty,source\n" + GOOD_ROW, "header"),
        (HEADER, "empty"),
        (HEADER + GOOD_ROW + GOOD_ROW, "listed twice"),
        (HEADER + "1049621,SBD,oxycodone hydrochloride 5 MG Oral Tablet,cdc-oaamp-2023-03\n",
         "line 2: RXCUI 1049621: tty"),
        (HEADER + "10496x1,SCD,oxycodone hydrochloride 5 MG Oral Tablet,cdc-oaamp-2023-03\n",
         "not an RXCUI"),
        (HEADER + "01049621,SCD,oxycodone hydrochloride 5 MG Oral Tablet,cdc-oaamp-2023-03\n",
         "not an RXCUI"),
        (HEADER + "1049621,SCD,oxycodone hydrochloride 5 MG Oral Tablet,memory\n",
         "unknown or repeated source"),
        (HEADER + "1049621,SCD,oxycodone hydrochloride 5 MG Oral Tablet,\n",
         "unknown or repeated source"),
        (HEADER + "1049621,SCD,oxycodone hydrochloride 5 MG Oral Tablet,"
         "cdc-oaamp-2023-03;cdc-oaamp-2023-03\n", "unknown or repeated source"),
        (HEADER + "1049621,SCD,oxycodone hydrochloride 5 MG Oral Tablet\n", "expected 4 fields"),
        (HEADER + "1049621,SCD,oxycodone hydrochloride  5 MG Oral Tablet,cdc-oaamp-2023-03\n",
         "whitespace"),
        (HEADER + GOOD_ROW + "886634,SCD,butorphanol tartrate 1 MG/ACTUAT Metered Dose Nasal "
         "Spray,cdc-oaamp-2023-03\n", "line 3: RXCUI 886634: unknown substance"),
    ],
)
def test_from_csv_fails_loudly(text: str, why: str) -> None:
    with pytest.raises(TerminologyError, match=why):
        OpioidTerminology.from_csv(text)

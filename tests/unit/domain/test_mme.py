"""Morphine milligram equivalents, checked against worked examples published with the CDC
guideline, CDC's own MME calculator and material quoting CDC, not against the code.

Sources of the expected values (each test names the one it uses):

[MMWR-2022] Dowell D, Ragan KR, Jones CM, Baldwin GT, Chou R. CDC Clinical Practice
    Guideline for Prescribing Opioids for Pain - United States, 2022. MMWR Recomm Rep
    2022;71(No. RR-3):1-95. Table "Morphine milligram equivalent doses for commonly
    prescribed opioids for pain management", footnote *: "tablets containing hydrocodone
    5 mg and acetaminophen 325 mg taken four times a day would contain a total of 20 mg of
    hydrocodone daily, equivalent to 20 MME daily; extended-release tablets containing
    oxycodone 10 mg and taken twice a day would contain a total of 20 mg of oxycodone
    daily, equivalent to 30 MME daily." (Table text read in the reproductions at
    globalrph.com/medcalcs/morphine-milligram-equivalents-calculator and Medscape
    viewarticle/987410; the same two examples are in the 2016 guideline, JAMA
    2016;315:1624-45, Table 4, PMC6390846.)

[CDC-MME-IG] CDC MME calculator, FHIR implementation guide "Opioid MME calculator"
    (publisher: Centers for Disease Control and Prevention), github.com/cqframework/
    opioid-mme-r4, version 3.0.0 whose clinical factor set is the 2022 table (methadone
    4.7, hydromorphone 5, tramadol 0.2). Its test cases:
      input/tests/MMECalculatorTests/patient-mme-greater-than-fifty: "72 HR Fentanyl
        0.075 MG/HR Transdermal System", 1 patch every 3 days -> TotalMME 180.0 {MME}/d;
      input/tests/MMECalculatorTests/patient-mme-with-timeofday: "12 HR Oxycodone
        Hydrochloride 60 MG Extended Release Oral Tablet", dose 10 mg at 10:00 and 22:00
        -> TotalMME 30.0 {MME}/d.
    (Its third case, patient-mme-less-than-fifty, is not used: its stored input, 10 mg
    every 12 h, and its expected 45 MME/d disagree with each other.)

[CDC-FACT-SHEET] CDC, "Calculating Total Daily Dose of Opioids for Safer Dosage" (2016
    fact sheet, www.cdc.gov/drugoverdose/pdf/calculating_total_daily_dose-a.pdf), box
    "90 MME/day": "90 mg of hydrocodone (9 tablets of hydrocodone/acetaminophen 10/325);
    60 mg of oxycodone (~2 tablets of oxycodone sustained-release 30 mg); ~20 mg of
    methadone (4 tablets of methadone 5 mg)". The PDF itself could not be reached; the
    text is as quoted by AffirmHealth, "Safety in Numbers: Morphine Milligram Equivalents
    (MME)", affirmhealth.com/blog/safety-in-numbers-morphine-milligram-equivalents-mme.
    Its methadone line used the 2016 tier factor (1-20 mg/day: 4, so 20 mg = 80, "~90");
    2022 uses 4.7 for every dose, so the test expects 20 x 4.7 = 94.

[CDC-ANALYTIC] National Center for Injury Prevention and Control, CDC compilation of ...
    opioid analgesics with oral morphine milligram equivalent conversion factors, 2017
    version (as reproduced at docslib.org/doc/6360357): "Strength per Unit X (Number of
    Units/ Days Supply) X MME conversion factor = MME/Day", fentanyl patch factor 7.2
    per mcg/h of a patch dispensed (a patch lasting 3 days: 2.4 x 3); buprenorphine
    "listed but do not have an associated MME conversion factor".

[ELITE] Elite Learning continuing-education ebook (California Dentist Ebook Continuing
    Education), ebooks.elitelearning.com/view/1004010263/62, "Example MME calculation":
    OxyContin 20 mg twice daily and oxycodone 10 mg three times a day (with Flexeril and
    Xanax 0.5 mg three times a day): "10 mg x 3 (daily) x 1.5 = 45 MME/day ... 60 MME/day
    (OxyContin) + 45 MME/day (oxycodone) = 105 MME/day"; and its "Table 4: Examples of
    50 and 90 MME/day": hydrocodone-acetaminophen 5 mg/325 mg, 50 MME/day = 50 mg (10
    tablets); 10 mg/325 mg, 50 mg (5 tablets) and 90 mg (9 tablets). It uses the 2016
    table, whose hydrocodone (1) and oxycodone (1.5) factors are unchanged in 2022.

Every expected value is written with its arithmetic; none is produced by the code.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

import pytest

from domain.medication import MedicationStatement, Schedule, StatementStatus
from domain.opioids.mme import (
    CONVERSION_FACTORS,
    DOSAGE_THRESHOLDS,
    Basis,
    MmeResult,
    mme_for,
    risk_flags,
    total_mme,
)
from domain.opioids.products import OpioidProduct

PATIENT = uuid.uuid4()
PLAN = uuid.uuid4()


def product(ingredient: str, strength: float, unit: str = "mg",
            dose_form: str = "Oral Tablet", **kw: Any) -> OpioidProduct:
    values: dict[str, Any] = {
        "rxcui": "1049621", "name": f"{ingredient} {strength:g} {unit} {dose_form}",
        "ingredient": ingredient, "strength": strength, "strength_unit": unit,
        "dose_form": dose_form,
    }
    values.update(kw)
    return OpioidProduct(**values)


def statement(dose: float = 1, unit: str = "tablet", schedule: Schedule | None = None,
              **kw: Any) -> MedicationStatement:
    values: dict[str, Any] = {
        "id": uuid.uuid4(), "care_plan_id": PLAN, "patient_id": PATIENT,
        "rxnorm_code": "1049621", "display": "opioid", "dose_quantity": dose,
        "dose_unit": unit, "schedule": schedule or Schedule(),
        "period_start": dt.date(2025, 1, 1),
    }
    values.update(kw)
    s = MedicationStatement(**values)
    s.validate()
    return s


def times_a_day(n: int) -> Schedule:
    return Schedule(count=n, period=1, unit="d")


# --- The factors themselves -------------------------------------------------------------

def test_factors_are_the_cdc_2022_table() -> None:
    # [MMWR-2022] Table, every row as printed; [CDC-MME-IG] CDCMMEClinicalConversionFactors
    # 3.0.0 has the same ten values.
    published = {
        "codeine": 0.15, "fentanyl": 2.4, "hydrocodone": 1.0, "hydromorphone": 5.0,
        "methadone": 4.7, "morphine": 1.0, "oxycodone": 1.5, "oxymorphone": 3.0,
        "tapentadol": 0.4, "tramadol": 0.2,
    }
    in_table = {k: f.value for k, f in CONVERSION_FACTORS.items() if f.in_cdc_2022_table}
    assert in_table == published
    assert CONVERSION_FACTORS["fentanyl"].basis is Basis.MCG_PER_HOUR
    assert all(f.basis is Basis.MG_PER_DAY for k, f in CONVERSION_FACTORS.items()
               if k != "fentanyl")
    assert all("2022;71(No. RR-3)" in CONVERSION_FACTORS[k].source for k in published)


def test_factors_outside_the_2022_table_come_from_the_cdc_analytic_file() -> None:
    # [CDC-ANALYTIC]: dihydrocodeine 0.25, levorphanol tartrate 11, meperidine
    # hydrochloride 0.1, pentazocine 0.37. Flagged as not in the 2022 table.
    extra = {k: f for k, f in CONVERSION_FACTORS.items() if not f.in_cdc_2022_table}
    assert {k: f.value for k, f in extra.items()} == {
        "dihydrocodeine": 0.25, "levorphanol": 11.0, "meperidine": 0.1, "pentazocine": 0.37}
    assert all("analytic purposes" in f.source for f in extra.values())


def test_factor_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        CONVERSION_FACTORS["oxycodone"] = CONVERSION_FACTORS["morphine"]


# --- Published worked examples ----------------------------------------------------------

def test_mmwr_2022_hydrocodone_5_mg_four_times_a_day_is_20_mme() -> None:
    # [MMWR-2022] Table footnote *: 5 mg x 4/day = 20 mg hydrocodone; 20 x 1.0 = 20 MME.
    r = mme_for(statement(1, "tablet", times_a_day(4)),
                product("hydrocodone", 5, name="Acetaminophen 325 MG / Hydrocodone "
                                              "Bitartrate 5 MG Oral Tablet"))
    assert r.daily_dose == pytest.approx(20.0)
    assert r.daily_dose_unit is Basis.MG_PER_DAY
    assert r.factor == 1.0
    assert r.mme_per_day == pytest.approx(20.0)
    assert r.unknown_reason is None


def test_mmwr_2022_oxycodone_er_10_mg_twice_a_day_is_30_mme() -> None:
    # [MMWR-2022] Table footnote *: 10 mg x 2/day = 20 mg oxycodone; 20 x 1.5 = 30 MME.
    r = mme_for(statement(1, "tablet", times_a_day(2)),
                product("oxycodone", 10, dose_form="Extended Release Oral Tablet",
                        long_acting=True))
    assert r.daily_dose == pytest.approx(20.0)
    assert r.mme_per_day == pytest.approx(30.0)


def test_the_two_mmwr_2022_examples_together_reach_exactly_50() -> None:
    # [MMWR-2022] 20 MME + 30 MME = 50 MME/day: the 50 threshold is crossed at >=.
    results = [
        mme_for(statement(1, "tablet", times_a_day(4)), product("hydrocodone", 5)),
        mme_for(statement(1, "tablet", times_a_day(2)),
                product("oxycodone", 10, dose_form="Extended Release Oral Tablet")),
    ]
    total = total_mme(results)
    assert total.mme_per_day == pytest.approx(50.0)
    assert [t.mme_per_day for t in total.thresholds_crossed] == [50.0]
    assert not total.is_lower_bound


def test_cdc_mme_calculator_fentanyl_75_mcg_h_patch_every_3_days_is_180() -> None:
    # [CDC-MME-IG] patient-mme-greater-than-fifty: 0.075 mg/h = 75 mcg/h, 1 patch every
    # 3 days -> 180.0 MME/d. By hand: 75 mcg/h x 1 patch x 2.4 = 180.
    r = mme_for(statement(1, "patch", Schedule(count=1, period=3, unit="d")),
                product("fentanyl", 75, "mcg/h", "Transdermal System", long_acting=True,
                        transdermal=True))
    assert r.daily_dose == pytest.approx(75.0)
    assert r.daily_dose_unit is Basis.MCG_PER_HOUR
    assert r.mme_per_day == pytest.approx(180.0)
    total = total_mme([r])
    assert [t.mme_per_day for t in total.thresholds_crossed] == [50.0, 90.0]


def test_cdc_mme_calculator_oxycodone_dose_written_in_mg_is_30() -> None:
    # [CDC-MME-IG] patient-mme-with-timeofday: product oxycodone ER 60 mg tablet, but the
    # dose is 10 mg twice a day -> 30.0 MME/d. By hand: the dose is already mg, so the
    # 60 mg strength is not used: 10 mg x 2 = 20 mg; 20 x 1.5 = 30.
    r = mme_for(statement(10, "mg", times_a_day(2)),
                product("oxycodone", 60, dose_form="Extended Release Oral Tablet"))
    assert r.daily_dose == pytest.approx(20.0)
    assert r.mme_per_day == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("ingredient", "strength", "tablets", "expected"),
    [
        # [CDC-FACT-SHEET] 9 tablets of hydrocodone/APAP 10/325: 9 x 10 = 90 mg x 1.0 = 90.
        ("hydrocodone", 10, 9, 90.0),
        # [CDC-FACT-SHEET] "~2 tablets of oxycodone sustained-release 30 mg":
        # 2 x 30 = 60 mg x 1.5 = 90.
        ("oxycodone", 30, 2, 90.0),
        # [CDC-FACT-SHEET] "~20 mg of methadone (4 tablets of methadone 5 mg)": 2016 tier
        # factor 4 gave 80. With the single 2022 factor: 4 x 5 = 20 mg x 4.7 = 94.
        ("methadone", 5, 4, 94.0),
    ],
)
def test_cdc_fact_sheet_how_much_is_90_mme(ingredient: str, strength: float, tablets: int,
                                           expected: float) -> None:
    r = mme_for(statement(tablets, "tablet", times_a_day(1)), product(ingredient, strength))
    assert r.mme_per_day == pytest.approx(expected)
    total = total_mme([r])
    assert [t.mme_per_day for t in total.thresholds_crossed] == [50.0, 90.0]


@pytest.mark.parametrize(
    ("strength", "tablets_a_day", "expected", "crossed"),
    [
        # [ELITE] Table 4: hydrocodone-APAP 5/325, 10 tablets = 50 mg = 50 MME/day.
        (5, 10, 50.0, [50.0]),
        # [ELITE] Table 4: hydrocodone-APAP 10/325, 5 tablets = 50 mg = 50 MME/day.
        (10, 5, 50.0, [50.0]),
        # [ELITE] Table 4: hydrocodone-APAP 10/325, 9 tablets = 90 mg = 90 MME/day.
        (10, 9, 90.0, [50.0, 90.0]),
        # One tablet fewer (by hand: 8 x 10 = 80, 4 x 10 = 40) crosses one line less.
        (10, 8, 80.0, [50.0]),
        (10, 4, 40.0, []),
    ],
)
def test_elite_table_50_and_90_mme_thresholds_at_exactly(
        strength: float, tablets_a_day: int, expected: float, crossed: list[float]) -> None:
    r = mme_for(statement(1, "tablet", Schedule(count=tablets_a_day)),
                product("hydrocodone", strength))
    total = total_mme([r])
    assert total.mme_per_day == pytest.approx(expected)
    assert [t.mme_per_day for t in total.thresholds_crossed] == crossed


def test_elite_worked_example_105_mme_with_a_benzodiazepine() -> None:
    # [ELITE] OxyContin 20 mg BID: 20 x 2 = 40 mg x 1.5 = 60; oxycodone 10 mg TID:
    # 10 x 3 = 30 mg x 1.5 = 45; total 60 + 45 = 105 MME/day. Xanax is on the list:
    # flagged as a co-prescription, and naloxone is indicated (>= 50 and benzodiazepine).
    er = mme_for(statement(1, "tablet", times_a_day(2), display="OxyContin 20 mg"),
                 product("oxycodone", 20, dose_form="Extended Release Oral Tablet",
                         long_acting=True))
    ir = mme_for(statement(1, "tablet", times_a_day(3), display="oxycodone 10 mg"),
                 product("oxycodone", 10))
    assert er.mme_per_day == pytest.approx(60.0)
    assert ir.mme_per_day == pytest.approx(45.0)
    total = total_mme([er, ir])
    assert total.mme_per_day == pytest.approx(105.0)
    assert [t.mme_per_day for t in total.thresholds_crossed] == [50.0, 90.0]
    flags = risk_flags(total, benzodiazepine_active=True, naloxone_on_file=False)
    assert flags.benzodiazepine_coprescription
    assert flags.naloxone_indicated and flags.naloxone_missing
    assert any("Recommendation 11" in r for r in flags.reasons)
    assert any("Recommendation 8" in r for r in flags.reasons)


@pytest.mark.parametrize("every_days", [3, 2])
def test_patch_mme_is_rate_times_2_4_whatever_the_change_interval(every_days: int) -> None:
    # [CDC-ANALYTIC] formula for a 25 mcg/h patch, 10 patches dispensed for 30 days:
    # 25 x (10 / 30) x 7.2 = 60 MME/day, which is 25 x 2.4 = 60. The rate worn, not how
    # often the patch is changed, gives MME (a patch changed every 2 days is still 60).
    r = mme_for(statement(1, "patch", Schedule(count=1, period=every_days, unit="d")),
                product("fentanyl", 25, "mcg/h", "Transdermal System", transdermal=True))
    assert r.mme_per_day == pytest.approx(25 * (10 / 30) * 7.2)
    assert r.mme_per_day == pytest.approx(60.0)


# --- Rules (hand arithmetic on the published factors) -----------------------------------

def test_methadone_uses_the_single_2022_factor_not_the_2016_tiers() -> None:
    # [MMWR-2022] methadone 4.7. 10 mg three times a day = 30 mg/day; 30 x 4.7 = 141.
    # The 2016 table (21-40 mg/day: factor 8) would have given 240.
    r = mme_for(statement(1, "tablet", times_a_day(3)), product("methadone", 10))
    assert r.factor == 4.7
    assert r.mme_per_day == pytest.approx(141.0)


def test_liquid_dose_in_ml_times_mg_per_ml() -> None:
    # Oxycodone oral solution 5 mg/5 mL = 1 mg/mL; 10 mL every 6 h: 10 mL x 1 mg/mL = 10 mg
    # x 4 = 40 mg/day; 40 x 1.5 = 60 MME/day.
    r = mme_for(statement(10, "mL", Schedule(count=1, period=6, unit="h")),
                product("oxycodone", 1, "mg/mL", "Oral Solution"))
    assert r.daily_dose == pytest.approx(40.0)
    assert r.mme_per_day == pytest.approx(60.0)


def test_two_patches_worn_at_once() -> None:
    # 2 x 50 mcg/h worn together = 100 mcg/h; 100 x 2.4 = 240 MME/day.
    r = mme_for(statement(2, "patch", Schedule(count=1, period=72, unit="h")),
                product("fentanyl", 50, "mcg/h", "Transdermal System", transdermal=True))
    assert r.daily_dose == pytest.approx(100.0)
    assert r.mme_per_day == pytest.approx(240.0)


def test_patch_dose_written_as_a_rate() -> None:
    # Dose written as 37 mcg/h (e.g. a 25 and a 12 mcg/h patch): 37 x 2.4 = 88.8.
    r = mme_for(statement(37, "mcg/h", Schedule(count=1, period=3, unit="d")),
                product("fentanyl", 25, "mcg/h", "Transdermal System", transdermal=True))
    assert r.mme_per_day == pytest.approx(88.8)


def test_as_needed_uses_the_maximum_per_day() -> None:
    # Oxycodone 5 mg, 1 tablet every 4 h as needed, at most 6 tablets a day:
    # 6 x 5 = 30 mg/day; 30 x 1.5 = 45 MME/day. (The every-4-hours schedule is not used.)
    r = mme_for(statement(1, "tablet", Schedule(count=1, period=4, unit="h", as_needed=True,
                                                max_per_day=6)),
                product("oxycodone", 5))
    assert r.as_needed_max_used
    assert r.daily_dose == pytest.approx(30.0)
    assert r.mme_per_day == pytest.approx(45.0)


def test_as_needed_in_mg_uses_the_maximum_in_mg() -> None:
    # Hydromorphone 2 mg tablets, dose 2 mg as needed, at most 8 mg a day: 8 x 5 = 40.
    r = mme_for(statement(2, "mg", Schedule(as_needed=True, max_per_day=8)),
                product("hydromorphone", 2))
    assert r.mme_per_day == pytest.approx(40.0)


def test_as_needed_without_a_maximum_is_unknown_not_zero() -> None:
    r = mme_for(statement(1, "tablet", Schedule(count=1, period=4, unit="h", as_needed=True)),
                product("oxycodone", 5))
    assert r.mme_per_day is None
    assert r.unknown_reason == "as-needed without a maximum daily amount"
    assert r.ingredient == "oxycodone"


def test_buprenorphine_is_excluded_with_its_reason() -> None:
    # [CDC-ANALYTIC] footnote iii: buprenorphine has no MME conversion factor (partial
    # agonist); it is not in the [MMWR-2022] table either.
    r = mme_for(statement(1, "film", times_a_day(2)),
                product("buprenorphine", 8, dose_form="Sublingual Film"))
    assert r.excluded
    assert r.mme_per_day is None
    assert r.unknown_reason is not None and "partial opioid agonist" in r.unknown_reason
    total = total_mme([r])
    assert total.excluded == (r,)
    assert total.unknown == ()
    assert not total.is_lower_bound
    assert total.mme_per_day == 0.0


def test_unknown_product_is_none_with_reason_and_makes_the_total_a_lower_bound() -> None:
    # 20 MME known (hydrocodone 5 mg QID, [MMWR-2022]) + one product not in the table.
    known = mme_for(statement(1, "tablet", times_a_day(4)), product("hydrocodone", 5))
    missing = mme_for(statement(1, "tablet", times_a_day(2), rxnorm_code="999999",
                                display="mystery opioid"), None)
    assert missing.mme_per_day is None
    assert missing.unknown_reason is not None and "999999" in missing.unknown_reason
    total = total_mme([known, missing])
    assert total.mme_per_day == pytest.approx(20.0)
    assert total.is_lower_bound
    assert total.unknown == (missing,)
    assert total.summary.startswith("at least 20 MME/day")
    assert "mystery opioid" in total.summary
    flags = risk_flags(total, benzodiazepine_active=False, naloxone_on_file=False)
    assert not flags.naloxone_indicated
    assert any("lower bound" in r for r in flags.reasons)


@pytest.mark.parametrize(
    ("prod", "dose_unit", "reason_part"),
    [
        (product("butorphanol", 1, "mg/mL", "Nasal Spray"), "mL", "no MME conversion factor"),
        (product("fentanyl", 200, "mcg", "Buccal Tablet"), "tablet", "transdermal"),
        (product("fentanyl", 100, "mcg", "Nasal Spray"), "spray", "transdermal"),
        (product("morphine", 4, "mg/mL", "Injectable Solution"), "mL", "not an oral form"),
        (product("morphine", 10, "mg", "Rectal Suppository"), "each", "not an oral form"),
        (product("oxycodone", 1, "mg/mL", "Oral Solution"), "tablet", "expected mL or mg"),
        (product("oxycodone", 5, "mg", "Oral Tablet"), "mL", "expected tablets/capsules"),
        (product("oxycodone", 5, "g", "Oral Tablet"), "tablet", "strength unit"),
        (product("morphine", 25, "mcg/h", "Transdermal System", transdermal=True), "patch",
         "not an oral form"),
    ],
)
def test_unsupported_forms_and_units_are_unknown_not_zero(
        prod: OpioidProduct, dose_unit: str, reason_part: str) -> None:
    r = mme_for(statement(1, dose_unit, times_a_day(2)), prod)
    assert r.mme_per_day is None
    assert not r.excluded
    assert r.unknown_reason is not None and reason_part in r.unknown_reason


def test_inactive_statements_are_computed_but_not_counted() -> None:
    stopped = mme_for(statement(1, "tablet", times_a_day(4), status=StatementStatus.STOPPED),
                      product("hydrocodone", 10))
    assert stopped.mme_per_day == pytest.approx(40.0)  # 10 x 4 = 40 mg x 1.0
    active = mme_for(statement(1, "tablet", times_a_day(4)), product("hydrocodone", 5))
    unknown_but_stopped = mme_for(
        statement(1, "tablet", times_a_day(2), status=StatementStatus.COMPLETED), None)
    total = total_mme([stopped, active, unknown_but_stopped])
    assert total.mme_per_day == pytest.approx(20.0)
    assert total.counted == (active,)
    assert not total.is_lower_bound


def _result(mme: float | None) -> MmeResult:
    return MmeResult(statement_id=uuid.uuid4(), display="x", active=True, mme_per_day=mme,
                     ingredient="morphine", factor=1.0, daily_dose=mme,
                     daily_dose_unit=Basis.MG_PER_DAY, as_needed_max_used=False)


@pytest.mark.parametrize(
    ("mmes", "crossed"),
    [
        ([49.99], []),
        ([50.0], [50.0]),
        ([50.0 - 1e-12], [50.0]),  # binary rounding is not a clinical difference
        ([30.0, 20.0], [50.0]),
        ([89.99], [50.0]),
        ([90.0], [50.0, 90.0]),
        ([45.0, 45.0], [50.0, 90.0]),
        ([], []),
    ],
)
def test_thresholds_are_crossed_at_greater_or_equal(mmes: list[float],
                                                    crossed: list[float]) -> None:
    total = total_mme([_result(m) for m in mmes])
    assert [t.mme_per_day for t in total.thresholds_crossed] == crossed


def test_thresholds_cite_their_sources() -> None:
    assert [t.mme_per_day for t in DOSAGE_THRESHOLDS] == [50.0, 90.0]
    assert "2022;71(No. RR-3)" in DOSAGE_THRESHOLDS[0].source
    assert "Recommendation 4" in DOSAGE_THRESHOLDS[0].source
    assert "Recommendation 5" in DOSAGE_THRESHOLDS[1].source


@pytest.mark.parametrize(
    ("mme", "benzo", "naloxone", "coprescribed", "indicated", "missing"),
    [
        (20.0, False, False, False, False, False),
        (20.0, True, False, True, True, True),   # Rec 11 and Rec 8 (benzodiazepine)
        (20.0, True, True, True, True, False),
        (50.0, False, False, False, True, True),  # Rec 8: >= 50 MME/day
        (50.0, False, True, False, True, False),
        (49.0, False, False, False, False, False),
    ],
)
def test_risk_flags(mme: float, benzo: bool, naloxone: bool, coprescribed: bool,
                    indicated: bool, missing: bool) -> None:
    flags = risk_flags(total_mme([_result(mme)]), benzodiazepine_active=benzo,
                       naloxone_on_file=naloxone)
    assert flags.benzodiazepine_coprescription is coprescribed
    assert flags.naloxone_indicated is indicated
    assert flags.naloxone_missing is missing


def test_benzodiazepine_without_any_opioid_raises_nothing() -> None:
    flags = risk_flags(total_mme([]), benzodiazepine_active=True, naloxone_on_file=False)
    assert not flags.benzodiazepine_coprescription
    assert not flags.naloxone_indicated
    assert flags.reasons == ()


def test_benzodiazepine_with_an_unconvertible_opioid_is_still_flagged() -> None:
    unknown = mme_for(statement(1, "tablet", times_a_day(2)), None)
    flags = risk_flags(total_mme([unknown]), benzodiazepine_active=True,
                       naloxone_on_file=False)
    assert flags.benzodiazepine_coprescription
    assert flags.naloxone_missing


def test_results_are_finite_or_none() -> None:
    r = mme_for(statement(1, "tablet", Schedule(count=1, period=12, unit="h")),
                product("tapentadol", 50))
    # 50 mg x 2 = 100 mg; 100 x 0.4 = 40 MME/day.
    assert r.mme_per_day is not None and math.isfinite(r.mme_per_day)
    assert r.mme_per_day == pytest.approx(40.0)

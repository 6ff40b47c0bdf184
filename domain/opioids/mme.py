"""Morphine milligram equivalents (MME) per day, the patient's total, and the risk flags.

MME/day = daily opioid dose x conversion factor. All doses are in mg/day except
transdermal fentanyl, whose dose is the patch delivery rate in mcg/h (CDC 2022 Table,
caution 1). The factors and the worked examples of the method are those of:

    Dowell D, Ragan KR, Jones CM, Baldwin GT, Chou R. CDC Clinical Practice Guideline
    for Prescribing Opioids for Pain - United States, 2022. MMWR Recomm Rep
    2022;71(No. RR-3):1-95. doi:10.15585/mmwr.rr7103a1. Table "Morphine milligram
    equivalent doses for commonly prescribed opioids for pain management" (adapted by
    CDC from Von Korff M et al. Clin J Pain 2008;24:521-7 and Nielsen S et al.
    Pharmacoepidemiol Drug Saf 2016;25:733-7).

That table lists ten opioids. Four more (dihydrocodeine, levorphanol, meperidine,
pentazocine) have no factor in the 2022 guideline; for them this module uses CDC's
analytic conversion-factor file, which says itself that it is "intended only for
analytic purposes" (see `CDC_ANALYTIC_FILE`). Those factors carry
`in_cdc_2022_table=False` so that a screen can say so.

Never a silent zero: whatever cannot be converted (no product, an ingredient without a
factor, a unit or dose form the table does not cover, an as-needed order without a daily
maximum) gives `mme_per_day=None` with a reason a clinician can read, and a patient total
that includes such an order is a lower bound and says so. Buprenorphine is excluded, not
unknown: it is listed with its reason but does not make the total a lower bound.

MME estimates risk; it is not a dose-conversion tool (CDC 2022 Table, caution 3: "Do not
use the calculated dose in MMEs to determine the doses to use when converting one opioid
to another"). Values are unrounded; round only at presentation.
"""

from __future__ import annotations

import enum
import math
import types
import uuid
from collections.abc import Iterable, Mapping

import msgspec

from domain.medication import MedicationStatement
from domain.opioids.products import OpioidProduct

CDC_2022 = (
    "Dowell D, Ragan KR, Jones CM, Baldwin GT, Chou R. CDC Clinical Practice Guideline "
    "for Prescribing Opioids for Pain - United States, 2022. MMWR Recomm Rep "
    "2022;71(No. RR-3):1-95"
)
CDC_2022_TABLE = (
    f"{CDC_2022}, Table: Morphine milligram equivalent doses for commonly prescribed "
    "opioids for pain management"
)
CDC_2016 = (
    "Dowell D, Haegerich TM, Chou R. CDC Guideline for Prescribing Opioids for Chronic "
    "Pain - United States, 2016. MMWR Recomm Rep 2016;65(No. RR-1):1-49"
)
CDC_ANALYTIC_FILE = (
    "National Center for Injury Prevention and Control. CDC compilation of "
    "benzodiazepines, muscle relaxants, stimulants, zolpidem, and opioid analgesics with "
    "oral morphine milligram equivalent conversion factors, 2017 version (also published "
    "as CDC_Oral_Morphine_Milligram_Equivalents_Sept_2018.xlsx and CMS "
    "Oral-MME-CFs-vFeb-2018); factors from Von Korff M et al. Clin J Pain 2008;24:521-7. "
    "Not in the CDC 2022 guideline table; CDC marks the file 'intended only for analytic "
    "purposes'"
)


class Basis(enum.StrEnum):
    """What the factor multiplies."""

    MG_PER_DAY = "mg/day"
    """Total mg of the opioid taken in a day (oral forms)."""
    MCG_PER_HOUR = "mcg/h"
    """Delivery rate of the transdermal patches worn at once."""


class Factor(msgspec.Struct, kw_only=True, frozen=True):
    value: float
    """MME per unit of `basis`: MME/day = daily dose (in `basis`) x value."""
    basis: Basis
    source: str
    in_cdc_2022_table: bool


def _t(value: float, basis: Basis = Basis.MG_PER_DAY) -> Factor:
    return Factor(value=value, basis=basis, source=CDC_2022_TABLE, in_cdc_2022_table=True)


def _analytic(value: float) -> Factor:
    return Factor(value=value, basis=Basis.MG_PER_DAY, source=CDC_ANALYTIC_FILE,
                  in_cdc_2022_table=False)


CONVERSION_FACTORS: Mapping[str, Factor] = types.MappingProxyType({
    # CDC 2022 Table, all ten rows as printed there:
    "codeine": _t(0.15),
    "fentanyl": _t(2.4, Basis.MCG_PER_HOUR),
    # "Fentanyl transdermal (in mcg/hr)" only. Buccal, sublingual, nasal and film forms
    # are not in the 2022 table and are refused by mme_for.
    "hydrocodone": _t(1.0),
    "hydromorphone": _t(5.0),
    # 5.0 in 2022; it was 4 in the 2016 table.
    "methadone": _t(4.7),
    # One factor in 2022. The 2016 table tiered it by daily dose (1-20 mg/d: 4,
    # 21-40: 8, 41-60: 10, >=61-80: 12); those tiers are no longer used. CDC 2022
    # caution 4: "Use particular caution with methadone dose conversions because
    # methadone has a long and variable half-life".
    "morphine": _t(1.0),
    "oxycodone": _t(1.5),
    "oxymorphone": _t(3.0),
    "tapentadol": _t(0.4),
    "tramadol": _t(0.2),
    # 0.2 in 2022 (Nielsen et al. 2016); the 2016-era CDC files used 0.1.
    # Not in the 2022 table; CDC analytic file (see CDC_ANALYTIC_FILE):
    "dihydrocodeine": _analytic(0.25),
    "levorphanol": _analytic(11.0),
    "meperidine": _analytic(0.1),
    "pentazocine": _analytic(0.37),
})
"""MME conversion factors by ingredient, lowercase as `OpioidProduct.ingredient` names it.

Verified against the CDC 2022 Table as reproduced by GlobalRPh and Medscape and against
CDC's computable version of it (CodeSystem CDCMMEClinicalConversionFactors 3.0.0, CDC MME
calculator implementation guide, github.com/cqframework/opioid-mme-r4); the four analytic
factors against the CDC file as reproduced by docslib.org and in austinbean/ops.
"""

EXCLUDED_INGREDIENTS: Mapping[str, str] = types.MappingProxyType({
    "buprenorphine": (
        "buprenorphine is excluded from MME: a partial opioid agonist, it is not expected "
        "to be associated with overdose risk in the same dose-dependent manner as full "
        "agonists, and CDC lists it without a conversion factor (" + CDC_ANALYTIC_FILE
        + ", footnote iii); it is not in the " + CDC_2022 + " MME table either"
    ),
})
"""Opioids deliberately left out of the total, with the reason shown to the team."""


class Threshold(msgspec.Struct, kw_only=True, frozen=True):
    mme_per_day: float
    advice: str
    source: str


DOSAGE_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        mme_per_day=50.0,
        advice=(
            "Before increasing total opioid dosage to >=50 MME/day, pause and carefully "
            "reassess evidence of individual benefits and risks; offer naloxone"
        ),
        source=(
            f"{CDC_2022}, Recommendation 4 (implementation considerations: many patients "
            "do not benefit from increasing dosages to >=50 MME/day but are exposed to "
            "progressive increases in risk); Recommendation 7 (overdose risk doubled at "
            "50 to <100 MME/day relative to <20); Recommendation 8 (naloxone for "
            "dosages e.g. >=50 MME/day)"
        ),
    ),
    Threshold(
        mme_per_day=90.0,
        advice=(
            "Avoid increasing dosage to >=90 MME/day or carefully justify a decision to "
            "titrate to >=90 MME/day"
        ),
        source=(
            f"{CDC_2016}, Recommendation 5 (the explicit 90 MME/day statement). The 2022 "
            "Recommendation 4 replaced the number by 'avoid increasing dosage above levels "
            "likely to yield diminishing returns in benefits relative to risks'; the clinic "
            "keeps 90 as its second review line"
        ),
    ),
)
"""Thresholds are crossed at >= (a total of exactly 50.0 crosses 50)."""

_FLOAT_SLACK = 1e-9
"""Tolerance for binary rounding only (0.15 x 200 is 30.000000000000004), not clinical."""

_MG = frozenset({"mg", "milligram", "milligrams"})
_ML = frozenset({"ml", "milliliter", "milliliters", "millilitre", "millilitres"})
_COUNT = frozenset({
    "tablet", "tablets", "tab", "tabs", "capsule", "capsules", "cap", "caps",
    "each", "ea", "unit", "units", "pill", "pills", "1",
})
_PER_UNIT: Mapping[str, tuple[frozenset[str], str]] = {
    # strength unit -> the dose units that count units of it, and how to say so
    "mg": (_COUNT, "a solid form of {:g} mg per unit: expected tablets/capsules or mg"),
    "mg/ml": (_ML, "a liquid of {:g} mg/mL: expected mL or mg"),
}
_PATCH = frozenset({"patch", "patches", "system", "systems", "each", "ea", "unit", "units",
                    "1"})
_RATE = frozenset({"mcg/h", "mcg/hr", "mcg/hour", "ug/h", "ug/hr", "µg/h", "microgram/hour"})
_ORAL_FORMS_WITHOUT_THE_WORD = frozenset({"chewable tablet", "tablet", "capsule"})


def _norm(unit: str) -> str:
    return unit.strip().lower().replace("{", "").replace("}", "")


def _is_oral(dose_form: str) -> bool:
    form = dose_form.strip().lower()
    return "oral" in form.split() or form in _ORAL_FORMS_WITHOUT_THE_WORD


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


class MmeResult(msgspec.Struct, kw_only=True, frozen=True):
    """MME/day of one medication statement, or why there is none."""

    statement_id: uuid.UUID
    display: str
    active: bool
    """Whether the statement is active; only active ones count in `total_mme`."""
    mme_per_day: float | None
    ingredient: str | None
    factor: float | None
    daily_dose: float | None
    """mg/day, or for transdermal patches the total mcg/h worn at once."""
    daily_dose_unit: Basis | None
    as_needed_max_used: bool
    """The daily dose is the as-needed maximum (`schedule.max_per_day`), not a schedule."""
    excluded: bool = False
    """Deliberately left out of MME (buprenorphine); the reason is in `unknown_reason`."""
    unknown_reason: str | None = None
    """Why `mme_per_day` is None: unknown, or excluded when `excluded` is set."""


def mme_for(statement: MedicationStatement, product: OpioidProduct | None) -> MmeResult:
    """MME/day of one statement of an opioid product, computed whatever its status.

    Oral forms (CDC 2022 Table, footnote *: "Multiply the dose for each opioid by the
    conversion factor"; caution 1: "All doses are in mg/day except for fentanyl"):

        mg per administration = dose_quantity                    if dose_unit is mg
                              = dose_quantity x strength (mg/mL) if dose_unit is mL
                              = dose_quantity x strength (mg)    if dose_unit counts units
        mg/day = mg per administration x schedule.administrations_per_day()
        as needed: mg/day = schedule.max_per_day (in dose_unit) x mg per dose_unit
        MME/day = mg/day x factor

    Transdermal fentanyl (CDC 2022 Table, "Fentanyl transdermal (in mcg/hr)" 2.4):

        MME/day = strength (mcg/h) x patches worn at once (dose_quantity) x 2.4

    independent of how often the patch is changed: the factor is per mcg/h of delivery
    rate, a 72-hour patch delivering its rate every day it is worn (Von Korff 2008:
    "one patch delivers the dispensed micrograms per hour over a 24 hour day and remains
    in place for 3 days"; CDC's analytic file gives 7.2 per mcg/h per patch dispensed,
    i.e. 2.4 x 3 days). When dose_unit is itself a rate (mcg/h) dose_quantity is the rate.

    Anything else is unknown, with the reason: no product; an ingredient with no factor;
    non-oral forms for mg factors (the factors are oral MME; Von Korff 2008 excluded
    injection and suppository forms); fentanyl other than a transdermal patch; units that
    do not fit the strength; an as-needed order without `max_per_day`. Buprenorphine is
    excluded with its reason.
    """

    def result(*, ingredient: str | None = None, factor: float | None = None,
               daily_dose: float | None = None, daily_dose_unit: Basis | None = None,
               mme_per_day: float | None = None, as_needed_max_used: bool = False,
               excluded: bool = False, unknown_reason: str | None = None) -> MmeResult:
        return MmeResult(
            statement_id=statement.id, display=statement.display,
            active=statement.is_active, mme_per_day=mme_per_day, ingredient=ingredient,
            factor=factor, daily_dose=daily_dose, daily_dose_unit=daily_dose_unit,
            as_needed_max_used=as_needed_max_used, excluded=excluded,
            unknown_reason=unknown_reason)

    def unknown(reason: str, *, ingredient: str | None = None,
                excluded: bool = False) -> MmeResult:
        return result(unknown_reason=reason, ingredient=ingredient, excluded=excluded)

    if product is None:
        return unknown(
            f"RxNorm {statement.rxnorm_code} is not in the opioid product table, so its "
            "opioid, strength and form are unknown; MME cannot be computed")
    ingredient = product.ingredient.strip().lower()
    if ingredient in EXCLUDED_INGREDIENTS:
        return unknown(EXCLUDED_INGREDIENTS[ingredient], ingredient=ingredient, excluded=True)
    factor = CONVERSION_FACTORS.get(ingredient)
    if factor is None:
        return unknown(
            f"{ingredient} has no MME conversion factor in the CDC 2022 table or in CDC's "
            "analytic conversion file", ingredient=ingredient)
    if not _positive(product.strength):
        return unknown(f"the product strength {product.strength!r} is not a positive number",
                       ingredient=ingredient)
    if not _positive(statement.dose_quantity):
        return unknown(f"the dose {statement.dose_quantity!r} is not a positive number",
                       ingredient=ingredient)

    strength_unit = _norm(product.strength_unit)
    dose_unit = _norm(statement.dose_unit)
    schedule = statement.schedule

    if factor.basis is Basis.MCG_PER_HOUR:
        transdermal = product.transdermal or "transdermal" in product.dose_form.lower()
        if not transdermal or strength_unit not in _RATE:
            return unknown(
                f"{ingredient} as {product.dose_form} ({product.strength:g} "
                f"{product.strength_unit}) is not a transdermal patch rated in mcg/h; only "
                "transdermal fentanyl has a factor in the CDC 2022 table (buccal, "
                "sublingual, nasal and film forms do not)", ingredient=ingredient)
        if schedule.as_needed:
            return unknown(
                "a transdermal patch ordered as needed: how many patches are worn at once "
                "is not defined", ingredient=ingredient)
        if dose_unit in _RATE:
            rate = statement.dose_quantity
        elif dose_unit in _PATCH:
            rate = product.strength * statement.dose_quantity
        else:
            return unknown(
                f"the dose unit {statement.dose_unit!r} is neither a number of patches nor "
                "a rate in mcg/h", ingredient=ingredient)
        return result(
            ingredient=ingredient, factor=factor.value, daily_dose=rate,
            daily_dose_unit=Basis.MCG_PER_HOUR, mme_per_day=rate * factor.value)

    if not _is_oral(product.dose_form):
        return unknown(
            f"{product.dose_form} is not an oral form; the CDC conversion factors are for "
            "oral doses (and transdermal fentanyl)", ingredient=ingredient)
    form = _PER_UNIT.get(strength_unit)
    if form is None:
        return unknown(
            f"the strength unit {product.strength_unit!r} is not supported for "
            f"{ingredient}: expected mg or mg/mL", ingredient=ingredient)
    units, what = form
    if dose_unit in _MG:
        mg_per_unit = 1.0
    elif dose_unit in units:
        mg_per_unit = product.strength
    else:
        return unknown(
            f"the dose unit {statement.dose_unit!r} does not fit {what.format(product.strength)}",
            ingredient=ingredient)

    if schedule.as_needed:
        max_per_day = schedule.max_per_day
        if max_per_day is None or not _positive(max_per_day):
            return unknown("as-needed without a maximum daily amount", ingredient=ingredient)
        units_per_day = max_per_day
    else:
        units_per_day = statement.dose_quantity * schedule.administrations_per_day()
    mg_per_day = units_per_day * mg_per_unit
    return result(
        ingredient=ingredient, factor=factor.value, daily_dose=mg_per_day,
        daily_dose_unit=Basis.MG_PER_DAY, mme_per_day=mg_per_day * factor.value,
        as_needed_max_used=schedule.as_needed)


class PatientTotal(msgspec.Struct, kw_only=True, frozen=True):
    """The sum of the MME/day of a patient's active opioid statements."""

    mme_per_day: float
    """Sum of the known MME/day; a lower bound when `unknown` is not empty."""
    counted: tuple[MmeResult, ...]
    unknown: tuple[MmeResult, ...]
    """Active statements whose MME could not be computed, each with its reason."""
    excluded: tuple[MmeResult, ...]
    """Active statements deliberately left out (buprenorphine), each with its reason."""
    thresholds_crossed: tuple[Threshold, ...]

    is_lower_bound: bool = False
    """True when some active opioid could not be converted: the total is at least this."""
    summary: str = ""
    """The total in words, naming what could not be counted and why."""


def _summary(total: float, unknown: tuple[MmeResult, ...],
             excluded: tuple[MmeResult, ...]) -> str:
    text = f"{total:g} MME/day"
    if unknown:
        reasons = "; ".join(f"{r.display}: {r.unknown_reason}" for r in unknown)
        text = (f"at least {text} (a lower bound: {len(unknown)} opioid(s) could "
                f"not be converted - {reasons})")
    if excluded:
        text += "; not counted: " + "; ".join(r.display for r in excluded)
    return text


def total_mme(results: Iterable[MmeResult]) -> PatientTotal:
    """Sum the MME/day of the active statements among `results`.

    Total daily MME is the sum over every opioid the patient takes (CDC 2022 Table,
    footnote *; CDC "Calculating total daily dose of opioids for safer dosage": determine
    the total daily amount of each opioid, convert each to MMEs, add them together).
    Inactive statements are ignored. Unknown ones are listed and make the total a lower
    bound; a threshold crossed by a lower bound is crossed for certain, one not crossed
    may still be. Thresholds (DOSAGE_THRESHOLDS) are crossed at >=.
    """
    active = [r for r in results if r.active]
    counted = tuple(r for r in active if r.mme_per_day is not None)
    total = math.fsum(r.mme_per_day for r in counted if r.mme_per_day is not None)
    unknown = tuple(r for r in active if r.mme_per_day is None and not r.excluded)
    excluded = tuple(r for r in active if r.excluded)
    return PatientTotal(
        mme_per_day=total,
        counted=counted,
        unknown=unknown,
        excluded=excluded,
        is_lower_bound=bool(unknown),
        summary=_summary(total, unknown, excluded),
        thresholds_crossed=tuple(
            t for t in DOSAGE_THRESHOLDS if total + _FLOAT_SLACK >= t.mme_per_day),
    )


class RiskFlags(msgspec.Struct, kw_only=True, frozen=True):
    benzodiazepine_coprescription: bool
    """An active opioid together with an active benzodiazepine."""
    naloxone_indicated: bool
    """At least one criterion of Recommendation 8 computable here is met."""
    naloxone_on_file: bool
    reasons: tuple[str, ...]

    naloxone_missing: bool = False
    """Naloxone is indicated and none is on file."""


def risk_flags(total: PatientTotal, *, benzodiazepine_active: bool,
               naloxone_on_file: bool) -> RiskFlags:
    """Co-prescription and naloxone flags for one patient.

    Inputs come from elsewhere: whether an active benzodiazepine is on the medication
    list and whether naloxone is on file (prescribed, dispensed or documented as offered).

    Benzodiazepine co-prescription: CDC 2022 Recommendation 11, "Clinicians should use
    particular caution when prescribing opioid pain medication and benzodiazepines
    concurrently" (concurrent use increases overdose risk). Raised for any active opioid
    statement, counted or not: an unknown or excluded opioid is still an opioid.

    Naloxone: CDC 2022 Recommendation 8, "offer naloxone when prescribing opioids,
    particularly to patients at increased risk for overdose, including ... patients taking
    higher dosages of opioids (e.g., >=50 MME/day), patients taking benzodiazepines with
    opioids". Its other criteria (history of overdose or substance use disorder,
    sleep-disordered breathing, return to a dose after lost tolerance) are not known here;
    a caller that knows them should add them.
    """
    any_opioid = bool(total.counted or total.unknown or total.excluded)
    coprescribed = benzodiazepine_active and any_opioid
    reasons: list[str] = []
    if coprescribed:
        reasons.append(
            "opioid and benzodiazepine taken concurrently: concurrent use increases the "
            f"risk of overdose ({CDC_2022}, Recommendation 11)")
    high_dose = total.mme_per_day + _FLOAT_SLACK >= DOSAGE_THRESHOLDS[0].mme_per_day
    if high_dose:
        reasons.append(
            f"total of {'at least ' if total.is_lower_bound else ''}"
            f"{total.mme_per_day:g} MME/day, >=50 MME/day: offer naloxone "
            f"({CDC_2022}, Recommendation 8)")
    elif total.is_lower_bound:
        reasons.append(
            f"total is a lower bound ({total.mme_per_day:g} MME/day known); whether it "
            "reaches 50 MME/day, a naloxone criterion of Recommendation 8, is unknown")
    if coprescribed:
        reasons.append(
            f"benzodiazepine with opioids: offer naloxone ({CDC_2022}, Recommendation 8)")
    return RiskFlags(
        benzodiazepine_coprescription=coprescribed,
        naloxone_indicated=coprescribed or high_dose,
        naloxone_on_file=naloxone_on_file,
        naloxone_missing=(coprescribed or high_dose) and not naloxone_on_file,
        reasons=tuple(reasons),
    )

"""Which statements on a medication list are opioids, benzodiazepines or naloxone.

Opioid products are recognised by RxNorm code through the opioid terminology table; a
statement whose code is not in the table but whose name names an opioid ingredient is
still an opioid (its MME is then unknown, never zero). Benzodiazepines and naloxone are
recognised by ingredient name, as RxNorm product names begin with their ingredients.

Benzodiazepine ingredients: WHO ATC classes N05BA (benzodiazepine derivatives,
anxiolytics), N05CD (benzodiazepine derivatives, hypnotics and sedatives) and N03AE01
(clonazepam), WHO Collaborating Centre for Drug Statistics Methodology, ATC/DDD Index.
"""

from __future__ import annotations

import enum
import re

from domain.opioids.mme import CONVERSION_FACTORS, EXCLUDED_INGREDIENTS

BENZODIAZEPINES = frozenset({
    # N05BA
    "alprazolam", "bromazepam", "chlordiazepoxide", "clobazam", "clorazepate", "diazepam",
    "halazepam", "ketazolam", "lorazepam", "medazepam", "oxazepam", "prazepam",
    # N05CD
    "estazolam", "flunitrazepam", "flurazepam", "midazolam", "nitrazepam", "quazepam",
    "temazepam", "triazolam", "remimazolam",
    # N03AE01
    "clonazepam",
})
OPIOID_INGREDIENTS = frozenset({*CONVERSION_FACTORS, *EXCLUDED_INGREDIENTS, "opium",
                                "butorphanol", "nalbuphine", "sufentanil", "alfentanil",
                                "remifentanil"})
_WORD = re.compile(r"[a-z]+")


class Kind(enum.StrEnum):
    OPIOID = "opioid"
    BENZODIAZEPINE = "benzodiazepine"
    NALOXONE = "naloxone"
    OTHER = "other"


def kind_of(display: str, in_opioid_table: bool) -> Kind:
    """What a statement is, from whether its code is a known opioid product and its name.

    Buprenorphine/naloxone (for opioid use disorder) is an opioid, not rescue naloxone."""
    if in_opioid_table:
        return Kind.OPIOID
    words = set(_WORD.findall(display.lower()))
    if words & OPIOID_INGREDIENTS:
        return Kind.OPIOID
    if words & BENZODIAZEPINES:
        return Kind.BENZODIAZEPINE
    if "naloxone" in words:
        return Kind.NALOXONE
    return Kind.OTHER

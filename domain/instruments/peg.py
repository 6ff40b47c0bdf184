"""The PEG three-item pain scale: Pain, interference with Enjoyment of life, General activity.

Three items, each answered with a whole number 0-10, about the past week (Figure 1 of the
paper; the wording shipped in `data/peg.json`):

* P: average pain intensity, 0 "No pain" .. 10 "Pain as bad as you can imagine";
* E: how pain has interfered with enjoyment of life, 0 "Does not interfere" ..
  10 "Completely interferes";
* G: how pain has interfered with general activity, same anchors as E.

The PEG score is the mean of the three item scores, 0-10, higher meaning more pain and more
interference: add the three answers and divide by 3.

Sources:
    Krebs EE, Lorenz KA, Bair MJ, Damush TM, Wu J, Sutherland JM, Asch SM, Kroenke K.
    Development and initial validation of the PEG, a three-item scale assessing pain
    intensity and interference. J Gen Intern Med 2009;24(6):733-738.
    doi:10.1007/s11606-009-0981-1 (the items are Brief Pain Inventory items: average pain,
    interference with enjoyment of life, interference with general activity).
    The scoring rule as the implementation guides state it: "average all three responses to
    get a total PEG score out of 10" (TOPCARE, mytopcare.org, "Assessing a patient's response
    to opioid therapy"); "PEG score = average 3 individual question scores" (CDC, Checklist
    for prescribing opioids for chronic pain).

No rounding rule is published: like the rest of `domain`, `score` returns the unrounded
mean and rounding is left to presentation (the guides print one decimal, e.g. "5.0").
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from domain.instruments.questionnaire import checked_answers

INSTRUMENT = "peg"
"""The built-in Questionnaire (`data/peg.json`) these rules score."""

PAIN = "pain"
ENJOYMENT = "enjoyment"
ACTIVITY = "activity"
LINK_IDS: tuple[str, ...] = (PAIN, ENJOYMENT, ACTIVITY)
"""The three items by link id, in the published order P, E, G."""

ITEM_MIN = 0
ITEM_MAX = 10
"""Every item is answered 0-10 (Krebs et al. 2009, Figure 1)."""


class PegScore(msgspec.Struct, frozen=True, kw_only=True):
    pain: int
    """P: average pain intensity in the past week, 0-10."""
    enjoyment: int
    """E: interference with enjoyment of life, 0-10."""
    activity: int
    """G: interference with general activity, 0-10."""
    total: float
    """The PEG score: the mean of the three items, 0-10, unrounded."""


def score(answers: Mapping[str, int]) -> PegScore:
    """Score one PEG: the mean of its three items (Krebs et al. 2009).

    PEG = (P + E + G) / 3, each item a whole number 0-10, so the score is 0-10.

    Krebs EE, Lorenz KA, Bair MJ, et al. Development and initial validation of the PEG, a
    three-item scale assessing pain intensity and interference. J Gen Intern Med
    2009;24(6):733-738.

    Args:
        answers: the answer to each item by link id: `pain`, `enjoyment`, `activity`.
            All three are required; the published score is not defined for fewer.

    Returns:
        The three item scores and the unrounded mean. 5, 5, 5 gives 5.0; 7, 8, 6 gives 7.0.

    Raises:
        Invalid: field `answers` when it is not a mapping, `answers.<link id>` for an
            unknown item, a missing one, or an answer that is not a whole number 0-10.
    """
    checked = checked_answers(answers, LINK_IDS, ITEM_MIN, ITEM_MAX)
    pain, enjoyment, activity = checked[PAIN], checked[ENJOYMENT], checked[ACTIVITY]
    return PegScore(
        pain=pain,
        enjoyment=enjoyment,
        activity=activity,
        total=(pain + enjoyment + activity) / 3,
    )

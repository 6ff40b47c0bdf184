"""The working alliance: the Working Alliance Inventory - Short Revised (WAI-SR), client form.

Twelve items, each answered on a five-point frequency scale, 1 "Seldom", 2 "Sometimes",
3 "Fairly often", 4 "Very often", 5 "Always"; higher means a stronger alliance. Three
subscales of four items each, after Bordin's (1979) model of the working alliance:

* goal (agreement on the goals of treatment): items 4, 6, 8, 11;
* task (agreement on the tasks of treatment): items 1, 2, 10, 12;
* bond (the personal bond): items 3, 5, 7, 9.

No item is reverse-scored: the scoring keys found (see Sources) add every answer as given,
unlike the parent 36-item WAI, which mixes in negatively worded items. `REVERSED_ITEMS` is
empty, and `score` honours it should a corrected key ever name one.

Scores here are means on the 1-5 answer scale: each subscale is the mean of its four items,
the total the mean of all twelve (equal to the mean of the three subscale means). The
equivalent sums are 4 x the subscale mean (4-20) and 12 x the total mean (12-60).

Sources:
    Hatcher RL, Gillaspy JA. Development and validation of a revised short version of the
    Working Alliance Inventory. Psychother Res 2006;16(1):12-25.
    doi:10.1080/10503300500352500
    Horvath AO, Greenberg LS. Development and validation of the Working Alliance Inventory.
    J Couns Psychol 1989;36(2):223-233 (the parent 36-item inventory).
    The item numbers of each subscale and the answer labels are as the WAI-SR is scored in
    practice (e.g. Rivet's WAI-SR clinical template documentation: task 1, 2, 10, 12; bond
    3, 5, 7, 9; goal 4, 6, 8, 11; 1-5 Seldom .. Always); `data/TERMS.md` says what was and
    was not read directly.

The item texts are not shipped (see `data/TERMS.md`): the built-in definition
(`data/wai-sr.json`) carries link ids "1".."12" -- the published item numbers -- and the
answer scale, and each clinic loads the wording from its own copy. Scoring needs only the
numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from domain.instruments.questionnaire import checked_answers

INSTRUMENT = "wai-sr"
"""The built-in Questionnaire (`data/wai-sr.json`) these rules score."""

GOAL_ITEMS: tuple[str, ...] = ("4", "6", "8", "11")
TASK_ITEMS: tuple[str, ...] = ("1", "2", "10", "12")
BOND_ITEMS: tuple[str, ...] = ("3", "5", "7", "9")
"""The subscales by item link id, which is the published item number (Hatcher & Gillaspy
2006)."""

LINK_IDS: tuple[str, ...] = tuple(str(number) for number in range(1, 13))
"""All twelve items, in published order."""

REVERSED_ITEMS: frozenset[str] = frozenset()
"""Items scored in reverse: none in the WAI-SR."""

ITEM_MIN = 1
ITEM_MAX = 5
"""The answer scale: 1 Seldom, 2 Sometimes, 3 Fairly often, 4 Very often, 5 Always."""


class AllianceScore(msgspec.Struct, frozen=True, kw_only=True):
    goal: float
    """Mean of items 4, 6, 8, 11, on the 1-5 scale."""
    task: float
    """Mean of items 1, 2, 10, 12, on the 1-5 scale."""
    bond: float
    """Mean of items 3, 5, 7, 9, on the 1-5 scale."""
    total: float
    """Mean of all twelve items, on the 1-5 scale."""
    item_count: int
    """How many items the scores rest on: always all twelve."""


def score(answers: Mapping[str, int]) -> AllianceScore:
    """Score one WAI-SR: the goal, task and bond subscale means and the total mean.

    goal = mean(items 4, 6, 8, 11); task = mean(items 1, 2, 10, 12);
    bond = mean(items 3, 5, 7, 9); total = mean(items 1..12). No item is reversed.

    Hatcher RL, Gillaspy JA. Development and validation of a revised short version of the
    Working Alliance Inventory. Psychother Res 2006;16(1):12-25.

    Args:
        answers: the answer to each item by link id "1".."12" (the published item numbers),
            each a whole number 1-5. All twelve are required: no rule for prorating missing
            items was found in the published sources, so none is invented here.

    Returns:
        Unrounded means on the 1-5 scale.

    Raises:
        Invalid: field `answers` when it is not a mapping, `answers.<link id>` for an
            unknown item, a missing one, or an answer that is not a whole number 1-5.
    """
    checked = checked_answers(answers, LINK_IDS, ITEM_MIN, ITEM_MAX)
    values = {
        link_id: (ITEM_MIN + ITEM_MAX - value) if link_id in REVERSED_ITEMS else value
        for link_id, value in checked.items()
    }

    def mean(link_ids: tuple[str, ...]) -> float:
        return sum(values[link_id] for link_id in link_ids) / len(link_ids)

    return AllianceScore(
        goal=mean(GOAL_ITEMS),
        task=mean(TASK_ITEMS),
        bond=mean(BOND_ITEMS),
        total=mean(LINK_IDS),
        item_count=len(values),
    )

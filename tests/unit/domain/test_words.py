"""Words Matter: what the checker flags, what it suggests, and what it leaves alone."""

from __future__ import annotations

import pytest

from domain.words import NIDA, check_text, terms


def flagged(text: str) -> list[tuple[str, str]]:
    return [(f.term, f.matched) for f in check_text(text)]


@pytest.mark.parametrize(("text", "term", "matched"), [
    ("He is an addict.", "addict", "addict"),
    ("Addicts deserve care", "addict", "Addicts"),
    ("a former addict", "former addict", "former addict"),
    ("She is an ex-addict", "former addict", "ex-addict"),
    ("a recovering addict", "former addict", "recovering addict"),
    ("IV drug users", "user", "IV drug users"),
    ("opioid user", "user", "opioid user"),
    ("substance abusers", "drug abuser", "substance abusers"),
    ("junkies", "junkie", "junkies"),
    ("a pill-popper", "junkie (slang labels)", "pill-popper"),
    ("an alcoholic", "alcoholic", "alcoholic"),
    ("the drunks", "drunk", "drunks"),
    ("an addicted baby", "addicted baby", "addicted baby"),
    ("history of substance abuse", "substance abuse", "substance abuse"),
    ("prescription opioid abuse", "substance abuse", "prescription opioid abuse"),
    ("abusing opioids", "substance abuse", "abusing opioids"),
    ("his drug habit", "habit", "drug habit"),
    ("kick the habit", "habit", "kick the habit"),
    ("a drug problem", "drug problem", "drug problem"),
    ("relapsed on heroin", "relapse", "relapsed on heroin"),
    ("opioid replacement therapy", "replacement therapy", "opioid replacement therapy"),
    ("Opioid substitution", "replacement therapy", "Opioid substitution"),
    ("dirty urine", "dirty (test result)", "dirty urine"),
    ("a clean tox screen", "clean (test result)", "clean tox screen"),
    ("his urine was dirty", "dirty (test result)", "urine was dirty"),
    ("the test came back clean", "clean (test result)", "test came back clean"),
    ("She has stayed clean since May", "clean (abstinent)", "stayed clean"),
    ("90 days clean", "clean (abstinent)", "90 days clean"),
    ("clean and sober", "clean (abstinent)", "clean and sober"),
    ("Es un adicto", "adicto", "adicto"),
    ("un drogadicto", "adicto", "drogadicto"),
    ("un exadicto", "exadicto", "exadicto"),
    ("es alcohólica", "alcohólico", "es alcohólica"),
    ("abuso de sustancias", "abuso de sustancias", "abuso de sustancias"),
    ("su vicio", "vicio", "su vicio"),
    ("la prueba de orina salió limpia", "limpio / sucio (resultado)",
     "prueba de orina salió limpia"),
    ("terapia de sustitución", "terapia de sustitución", "terapia de sustitución"),
])
def test_stigmatizing_terms_are_found(text: str, term: str, matched: str) -> None:
    assert flagged(text) == [(term, matched)]


@pytest.mark.parametrize("text", [
    "Clean the wound twice a day.",
    "The wound is clean and dry.",
    "Keep it clean.",
    "Collect a clean-catch urine sample.",
    "Build healthy habits: walk every day.",
    "Tell us if you have a history of abuse or trauma.",
    "Other users of this page",
    "Questions about your medication? Any problems with refills?",
    "Avoid alcoholic drinks with this medicine.",
    "Alcoholics Anonymous meets on Tuesdays.",
    "National Institute on Drug Abuse (NIDA)",
    "Substance Abuse and Mental Health Services Administration",
    "hormone replacement therapy; nicotine replacement therapy",
    "a relapse of back pain; cancer relapse",
    "person with a substance use disorder; testing negative; medication for opioid use "
    "disorder; person in recovery; opioid agonist therapy",
    "the addiction; addictive; addicted to opioids",
    "a drunk driver",
    "el círculo vicioso del dolor",
    "bebidas alcohólicas",
    "terapia de reemplazo hormonal",
    "persona con un trastorno por consumo de sustancias; resultado negativo",
    "Instituto Nacional sobre el Abuso de Drogas",
])
def test_neutral_or_person_first_text_passes(text: str) -> None:
    assert flagged(text) == []


def test_findings_carry_position_suggestion_and_source() -> None:
    text = "Your friend,\nthe  dirty\nurine result, from a former addict."
    first, second = check_text(text)
    assert first.position == text.index("dirty") and first.matched == "dirty\nurine result"
    assert "negative" not in first.suggestion and "positive" in first.suggestion
    assert second.term == "former addict" and second.position == text.index("former")
    assert "recovery" in second.suggestion and second.source == NIDA
    assert [f.position for f in check_text(text)] == sorted(f.position for f in
                                                             check_text(text))


def test_languages_can_be_chosen_and_every_term_has_a_suggestion() -> None:
    assert flagged("un adicto y an addict") == [("adicto", "adicto"), ("addict", "addict")]
    assert [f.language for f in check_text("un adicto y an addict", ("en",))] == ["en"]
    assert {t.language for t in terms()} == {"en", "es"}
    assert all(t.suggestion and t.term for t in terms())


def test_decomposed_accents_are_matched() -> None:
    assert flagged("es alcoho\u0301lico") == [("alcohólico", "es alcohólico")]

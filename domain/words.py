"""Words Matter: find stigmatizing terms about substance use in text patients will read,
and say what to write instead.

Source (English): National Institute on Drug Abuse (NIDA), "Words Matter: Preferred
Language for Talking About Addiction" (for the public) and NIDAMED "Words Matter - Terms
to Use and Avoid When Talking About Addiction" (for clinicians),
https://nida.nih.gov/research-topics/addiction-science/words-matter-preferred-language-talking-about-addiction
and https://nida.nih.gov/nidamed-medical-health-professionals/health-professions-education/words-matter-terms-to-use-avoid-when-talking-about-addiction
(consulted 2025; NIDA's pages carry their own review dates). NIDA's rows: addict, user,
substance or drug abuser, junkie; alcoholic, drunk; former or reformed addict; habit;
abuse; opioid substitution, replacement therapy; clean and dirty (toxicology results and
otherwise); addicted baby. Rows marked `source=NIDA_ADAPTED` ("drug problem", "relapse",
the slang labels next to "junkie") come from materials adapted from NIDA's table or
apply its reasoning to synonyms; they are ours to defend, not NIDA's words.

Spanish: NIDA publishes the page in Spanish ("Las palabras importan: términos preferidos
al hablar de la adicción", https://nida.nih.gov/es/node/38234). Its table was not checked
row by row here: the Spanish terms below are Concord's equivalents of NIDA's rows
(`source=CONCORD_ES`), to be reviewed by a Spanish-speaking clinician.

How matching works, and why it is narrow:
- Case-insensitive, on word boundaries, any whitespace (line breaks included) between
  the words of a phrase; the text is NFC-normalised first, so positions are in the NFC
  form (the same as the input for ordinary text).
- Words that are only stigmatizing in one sense are matched only in that sense: "clean"
  and "dirty" next to a test ("dirty urine", "clean screen", "urine was clean", "drug
  test came back dirty") or as abstinence ("stay clean", "30 days clean"), never "clean
  the wound" or "keep it clean"; "user" only as "drug user", "opioid user" and the like;
  "abuse" only of a substance ("substance abuse", "opioid abuse"), never abuse as trauma;
  "habit" only as "drug habit", never "healthy habits"; "replacement therapy" except
  hormone, nicotine, enzyme, estrogen, testosterone, thyroid or joint replacement;
  "alcoholic" except "alcoholic drink(s)/beverage(s)"; "relapse" only next to a
  substance, since a pain flare or a cancer relapse is ordinary clinical language.
- Proper names are exempt: "National Institute on Drug Abuse", "Substance Abuse and
  Mental Health Services Administration", "Alcoholics Anonymous", and the like.
- Overlapping matches keep the earliest, then the longest ("former addict" is one
  finding, not two).
The checker is a guard rail for templates, not a reviewer: it cannot see every
stigmatizing sentence, and what it flags is a prompt to rewrite, with NIDA's wording."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import msgspec

NIDA: Final = "NIDA Words Matter"
NIDA_ADAPTED: Final = "adapted from NIDA Words Matter"
CONCORD_ES: Final = "Concord's Spanish equivalent of a NIDA Words Matter row"

_SUBSTANCES_EN = (
    r"(?:drug|drugs|substance|alcohol|opioid|opioids|opiate|opiates|heroin|cocaine|crack|"
    r"meth|methamphetamine|fentanyl|narcotic|narcotics|pill|pills|prescription drug|"
    r"prescription opioid|prescription|medication|iv drug|injection drug|needle|marijuana|"
    r"cannabis|benzo|benzodiazepine)"
)
_DRUGS_EN = (
    r"(?:drug|drugs|substance|alcohol|opioid|opioids|opiate|opiates|heroin|cocaine|crack|"
    r"meth|methamphetamine|fentanyl|narcotic|narcotics|pill|pills|iv drug|injection drug|"
    r"needle|benzo|benzodiazepine)"
)
"""Narrower than `_SUBSTANCES_EN`: no "medication" or "prescription", which are neutral
next to "habits", "problems" or "users" (adherence, refills, patients)."""
_TESTS_EN = (
    r"(?:urine|urines|tox|toxicology|drug|ua|uds|screen|screens|test|tests|sample|samples|"
    r"specimen|specimens|urinalysis|result|results)"
)
_RESULTED = (
    r"(?:was|were|is|are|came back|came out|comes back|has been|have been|tested)"
)
_SUSTANCIAS_ES = (
    r"(?:drogas|sustancias|alcohol|opioides|opiáceos|heroína|cocaína|medicamentos|"
    r"pastillas|fármacos|narcóticos)"
)
_PRUEBAS_ES = r"(?:orina|prueba|pruebas|examen|análisis|resultado|resultados)"
"""Not "muestra": "muestra limpia" is also the clean-catch urine sample."""


class Term(msgspec.Struct, frozen=True, kw_only=True):
    term: str
    """The term to avoid, as the guidance names it."""
    suggestion: str
    language: str
    pattern: str
    """A regular expression; a space stands for any run of whitespace."""
    source: str = NIDA


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    term: str
    suggestion: str
    position: int
    """Offset of the match in the (NFC-normalised) text."""
    matched: str
    language: str
    source: str


_PERSON_EN = "person with a substance use disorder"
_TERMS: Final[tuple[Term, ...]] = (
    # -- English: people ------------------------------------------------------------------
    Term(term="former addict", language="en", pattern=r"(?:former|reformed|ex|recovering)"
         r"[-\s]?addicts?",
         suggestion="person in recovery; person in long-term recovery; person who "
                    "previously used drugs"),
    Term(term="addict", language="en", pattern=r"addicts?",
         suggestion=f"{_PERSON_EN}; person with an opioid use disorder; patient"),
    Term(term="drug abuser", language="en", pattern=rf"{_SUBSTANCES_EN} abusers?|abusers? of "
         rf"{_DRUGS_EN}", suggestion=_PERSON_EN),
    Term(term="user", language="en", pattern=rf"{_DRUGS_EN} users?",
         suggestion=f"{_PERSON_EN}; person who uses drugs; person in active use"),
    Term(term="junkie", language="en", pattern=r"junkies?|junky",
         suggestion=_PERSON_EN),
    Term(term="junkie (slang labels)", language="en", source=NIDA_ADAPTED,
         pattern=r"druggies?|crackheads?|potheads?|dopeheads?|tweakers?|dope fiends?|"
                 r"pill[-\s]?heads?|pill[-\s]?poppers?",
         suggestion=_PERSON_EN),
    Term(term="alcoholic", language="en",
         pattern=r"alcoholics?(?! (?:drinks?|beverages?|anonymous|liver|hepatitis|"
                 r"cirrhosis|content|cardiomyopathy)\b)",
         suggestion="person with an alcohol use disorder; person who engages in unhealthy "
                    "alcohol use"),
    Term(term="drunk", language="en", pattern=r"drunks|(?:a|the|an) drunk(?! driv)",
         suggestion="person with an alcohol use disorder"),
    Term(term="addicted baby", language="en",
         pattern=r"(?:addicted|crack|meth|opioid|oxy) (?:babies|baby|newborns?|infants?)|"
                 r"born addicted",
         suggestion="baby with neonatal opioid withdrawal syndrome; newborn exposed to "
                    "substances; baby born to a parent who used drugs while pregnant"),
    # -- English: the condition -----------------------------------------------------------
    Term(term="substance abuse", language="en",
         pattern=rf"{_SUBSTANCES_EN} abuse|abus(?:e|es|ed|ing) {_DRUGS_EN}|abuse of "
                 rf"{_SUBSTANCES_EN}",
         suggestion="substance use (illicit drugs); misuse, or use other than prescribed "
                    "(medications); substance use disorder (the diagnosis)"),
    Term(term="habit", language="en",
         pattern=rf"{_DRUGS_EN} habits?|kick(?:ed|ing|s)? "
                 r"(?:the|a|your|his|her|their) habit",
         suggestion="substance use disorder; drug addiction"),
    Term(term="drug problem", language="en", source=NIDA_ADAPTED,
         pattern=rf"{_DRUGS_EN} problems?|drinking problems?",
         suggestion="substance use disorder"),
    Term(term="relapse", language="en", source=NIDA_ADAPTED,
         pattern=rf"{_DRUGS_EN} relapses?|relaps(?:e|es|ed|ing) (?:on|into|to|with) "
                 rf"(?:{_DRUGS_EN}|using|drinking)",
         suggestion="return to use; recurrence of use"),
    # -- English: treatment ---------------------------------------------------------------
    Term(term="replacement therapy", language="en",
         pattern=r"(?<!hormone\x20)(?<!nicotine\x20)(?<!estrogen\x20)(?<!enzyme\x20)"
                 r"(?<!thyroid\x20)(?<!testosterone\x20)(?<!joint\x20)(?<!hormonal\x20)"
                 r"(?:opioid |opiate |methadone |buprenorphine )?(?:replacement|substitution) "
                 r"(?:therapy|treatment)|opioid (?:replacement|substitution)",
         suggestion="opioid agonist therapy; medication for opioid use disorder (MOUD)"),
    # -- English: test results and abstinence ---------------------------------------------
    Term(term="clean (test result)", language="en",
         pattern=rf"clean {_TESTS_EN}(?: {_TESTS_EN}){{0,2}}|{_TESTS_EN} {_RESULTED} clean",
         suggestion="testing negative; negative result"),
    Term(term="dirty (test result)", language="en",
         pattern=rf"dirty {_TESTS_EN}(?: {_TESTS_EN}){{0,2}}|{_TESTS_EN} {_RESULTED} dirty",
         suggestion="testing positive; positive result"),
    Term(term="clean (abstinent)", language="en",
         pattern=r"(?:stay|stays|stayed|staying|get|gets|got|getting|been|being) clean"
                 r"(?= (?:and sober|from|for|since|now|today)\b|\s*[.!?,;]|\s*$)|"
                 r"\d+ (?:days?|weeks?|months?|years?) clean|clean time|clean and sober",
         suggestion="in remission or recovery; not currently using drugs; abstinent"),
    # -- Spanish --------------------------------------------------------------------------
    Term(term="exadicto", language="es", source=CONCORD_ES,
         pattern=r"ex[-\s]?adict[oa]s?",
         suggestion="persona en recuperación"),
    Term(term="adicto", language="es", source=CONCORD_ES,
         pattern=r"(?:drog)?adict[oa]s?|toxicóman[oa]s?",
         suggestion="persona con un trastorno por consumo de sustancias"),
    Term(term="yonqui", language="es", source=CONCORD_ES,
         pattern=r"yonquis?|yonkis?|drogatas?",
         suggestion="persona con un trastorno por consumo de sustancias"),
    Term(term="abusador de sustancias", language="es", source=CONCORD_ES,
         pattern=rf"abusador(?:es|a|as)? de {_SUSTANCIAS_ES}",
         suggestion="persona con un trastorno por consumo de sustancias"),
    Term(term="alcohólico", language="es", source=CONCORD_ES,
         pattern=r"(?:un|una|el|la|los|las|es|son|era|eran|ser) (?:ex)?alcohólic[oa]s?|"
                 r"borrach[oa]s?",
         suggestion="persona con un trastorno por consumo de alcohol"),
    Term(term="abuso de sustancias", language="es", source=CONCORD_ES,
         pattern=rf"abuso de {_SUSTANCIAS_ES}",
         suggestion="consumo de sustancias; uso indebido (medicamentos); trastorno por "
                    "consumo de sustancias (el diagnóstico)"),
    Term(term="vicio", language="es", source=CONCORD_ES,
         pattern=rf"vicios? (?:de|a|con) (?:las |los |la |el )?{_SUSTANCIAS_ES}|"
                 r"(?:el|su|tu|un) vicio",
         suggestion="trastorno por consumo de sustancias"),
    Term(term="terapia de sustitución", language="es", source=CONCORD_ES,
         pattern=r"(?:terapia|tratamiento) (?:de|por) (?:sustitución|reemplazo|remplazo)"
                 r"(?! hormonal| de (?:hormonas|nicotina|estrógenos|enzimas))",
         suggestion="tratamiento con medicamentos para el trastorno por consumo de opioides; "
                    "terapia con agonistas opioides"),
    Term(term="limpio / sucio (resultado)", language="es", source=CONCORD_ES,
         pattern=rf"{_PRUEBAS_ES}(?: de (?:orina|drogas|toxicología))? (?:salió |salieron |"
                 r"dio |dieron |está |estaba |fue |es )?(?:limpi[oa]s?|suci[oa]s?)",
         suggestion="resultado negativo; resultado positivo"),
)

EXEMPT_NAMES: Final[tuple[str, ...]] = (
    "National Institute on Drug Abuse",
    "National Institute on Alcohol Abuse and Alcoholism",
    "Substance Abuse and Mental Health Services Administration",
    "Alcoholics Anonymous",
    "Narcotics Anonymous",
    "Instituto Nacional sobre el Abuso de Drogas",
    "Alcohólicos Anónimos",
)

LANGUAGES: Final = ("en", "es")


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + pattern.replace(" ", r"\s+") + r")(?!\w)",
                      re.IGNORECASE)


_COMPILED: Final = tuple((term, _compile(term.pattern)) for term in _TERMS)
_EXEMPT: Final = re.compile("|".join(re.escape(name).replace(r"\ ", r"\s+")
                                     for name in EXEMPT_NAMES), re.IGNORECASE)


def terms(language: str | None = None) -> tuple[Term, ...]:
    """The terms checked (for one language, or all)."""
    return tuple(t for t in _TERMS if language is None or t.language == language)


def check_text(text: str, languages: tuple[str, ...] = LANGUAGES) -> list[Finding]:
    """The stigmatizing terms in `text`, in order of position. Both languages are checked
    by default: a Spanish template may quote English and the other way round."""
    text = unicodedata.normalize("NFC", text)
    exempt = [m.span() for m in _EXEMPT.finditer(text)]
    candidates: list[tuple[int, int, Term]] = []
    for term, compiled in _COMPILED:
        if term.language not in languages:
            continue
        for match in compiled.finditer(text):
            start, end = match.span()
            if any(a <= start and end <= b for a, b in exempt):
                continue
            candidates.append((start, end, term))
    candidates.sort(key=lambda c: (c[0], -(c[1] - c[0])))
    findings: list[Finding] = []
    last_end = -1
    for start, end, term in candidates:
        if start < last_end:
            continue
        findings.append(Finding(term=term.term, suggestion=term.suggestion, position=start,
                                matched=text[start:end], language=term.language,
                                source=term.source))
        last_end = end
    return findings

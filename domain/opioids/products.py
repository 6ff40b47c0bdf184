"""An opioid product as MME needs it: which opioid, how much per unit, in what form."""

from __future__ import annotations

import msgspec


class OpioidProduct(msgspec.Struct, kw_only=True, frozen=True):
    rxcui: str
    """RxNorm RXCUI of the product (term type SCD or SBD)."""
    name: str
    """The RxNorm name, e.g. `oxycodone hydrochloride 5 MG Oral Tablet`."""
    ingredient: str
    """The opioid ingredient as the CDC conversion table names it, lowercase:
    `oxycodone`, `fentanyl`, `hydrocodone`, `buprenorphine`, ..."""
    strength: float
    """Opioid strength per unit of the dose form, in `strength_unit`."""
    strength_unit: str
    """`mg` (per tablet, capsule, suppository...), `mg/mL` (liquids), `mcg/h` (patches)."""
    dose_form: str
    """The RxNorm dose form, e.g. `Oral Tablet`, `Transdermal System`, `Oral Solution`."""
    term_type: str = "SCD"
    long_acting: bool = False
    """Extended-release or long-acting (ER/LA)."""
    transdermal: bool = False

"""Opioid stewardship: products, morphine milligram equivalents, taper guardrails."""

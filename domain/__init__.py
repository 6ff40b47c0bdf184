"""Concord's pure model and rules: no I/O, no framework imports."""

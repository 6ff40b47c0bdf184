"""Concord's FHIR boundary. `fhir.resources` installs a package named `fhir` too: extending
this package's path lets both live under one name (run with the repository root first on
sys.path, as every entry point does)."""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

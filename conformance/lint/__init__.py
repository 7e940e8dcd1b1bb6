"""`conformance lint`: holds an OpenAPI spec to the contract of CONTRACT.md.

Each rule has a stable id (``CT201``) and name (``input-400``); the id's first digit is the
CONTRACT.md section it comes from (0: the document itself, 9: what the suite needs to drive it).
The rules are the catalogue's lint rules (``conformance.catalogue``, ``Kind.LINT``): their names,
words and scopes live there. On a spec without ``x-contract: strict`` the rules of the house
style (``Scope.STRICT``) give notes; those of the document's soundness give findings on any spec.
"""

from __future__ import annotations

# The rule modules register themselves in RULES when imported.
from conformance.lint import (  # noqa: F401
    _auth,
    _concurrency,
    _headers,
    _limits,
    _operations,
    _pagination,
    _shapes,
    _status,
    _structure,
)
from conformance.lint._model import RULES, Finding, Rule, Severity, ordered_rules
from conformance.lint._report import as_json, format_finding, format_rules, format_text, summary
from conformance.lint._runner import LintResult, lint_path, lint_spec, rule_by_key

__all__ = [
    "RULES",
    "Finding",
    "LintResult",
    "Rule",
    "Severity",
    "as_json",
    "format_finding",
    "format_rules",
    "format_text",
    "lint_path",
    "lint_spec",
    "ordered_rules",
    "rule_by_key",
    "summary",
]

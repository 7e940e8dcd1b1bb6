"""`conformance init`: the contract's declarations a spec lacks, drafted as an OpenAPI Overlay
1.0 document from what the spec shows (its paths, schemas and security), each saying why it was
inferred, and what could not be inferred listed.

    _words       the names published APIs give auth operations, tokens, people, keys, owners
    _reading     members of a body with their pointers; the kinds of resource; the account's
    _auth        x-auth-flow (login, refresh, logout, verify, accounts) and the root x-roles
    _budgets     x-latency-budget-ms: a stated default, more for passwords and exports
    _kinds       x-references, x-unique, x-owner; notes on versions, creates and deletes
    _draft       the parts put together, checked as a run reads them (the overlay applied)
    _confirm     --target: one login, refresh and logout with the configured credentials
    _writing     the YAML file, with comments (ruamel.yaml)
    _closeness   the draft against declarations written by hand
    _command     the command: options, the file, the summary
"""

from __future__ import annotations

from conformance.drafting._closeness import Tally, closeness, table
from conformance.drafting._command import DEFAULT_OUT, InitOptions, command
from conformance.drafting._draft import draft, overlay_data
from conformance.drafting._model import Action, Draft, Gap
from conformance.drafting._writing import overlay_text

__all__ = [
    "DEFAULT_OUT",
    "Action",
    "Draft",
    "Gap",
    "InitOptions",
    "Tally",
    "closeness",
    "command",
    "draft",
    "overlay_data",
    "overlay_text",
    "table",
]

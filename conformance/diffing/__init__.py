"""`conformance diff OLD NEW`: will the new spec break the clients built on the old one?

Every change between two specs (files, or files at git revisions, with the overlays a run would
apply) that an old client could feel, each a case of one of the catalogue's diff rules
(``conformance.catalogue``, ``Kind.DIFF``: its id, its class and which client it breaks), the
changes a team accepted waived (``[[diff-waiver]]``), and with ``--target`` the old spec's
requests replayed against the new backend and judged by the old spec's answers. ARCHITECTURE.md
says how it is laid out.
"""

from __future__ import annotations

from conformance.diffing._command import DEFAULT_WAIVERS, FORMATS, DiffOptions, command, diff_result
from conformance.diffing._diff import diff
from conformance.diffing._model import RULES, Change, ChangeClass, class_of
from conformance.diffing._reading import Side, read_side
from conformance.diffing._report import (
    SCHEMA,
    DiffResult,
    Replayed,
    as_json,
    as_markdown,
    as_text,
    format_rules,
)
from conformance.diffing._waivers import DiffWaiver, parse_diff_waivers, read_diff_waivers

__all__ = [
    "DEFAULT_WAIVERS",
    "FORMATS",
    "RULES",
    "SCHEMA",
    "Change",
    "ChangeClass",
    "DiffOptions",
    "DiffResult",
    "DiffWaiver",
    "Replayed",
    "Side",
    "as_json",
    "as_markdown",
    "as_text",
    "class_of",
    "command",
    "diff",
    "diff_result",
    "format_rules",
    "parse_diff_waivers",
    "read_diff_waivers",
    "read_side",
]

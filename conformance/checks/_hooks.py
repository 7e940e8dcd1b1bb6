"""Hooks that shape the cases schemathesis generates, for rules no schema can state."""

from __future__ import annotations

from typing import Any

import schemathesis

from conformance.contract import IfMatch


@schemathesis.hook("map_case")
def agree_on_version(context: Any, case: Any) -> Any:
    """A schema-valid change sends one ``version``: CONTRACT.md §5 answers 400 to a single
    ``If-Match: "<version>"`` beside a body ``version`` that differs, a rule across two parts of
    the request that JSON Schema cannot express. Positive cases get the body's version from the
    header; negative ones are left as they are.
    """
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return case
    header = next(
        (value for name, value in (case.headers or {}).items() if name.lower() == "if-match"),
        None,
    )
    body = case.body
    if header is None or not isinstance(body, dict) or not isinstance(body.get("version"), int):
        return case
    single = IfMatch.parse(str(header)).single
    if single is not None and single != body["version"]:
        case.body = {**body, "version": single}
    return case

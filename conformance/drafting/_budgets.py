"""Latency budgets (``x-latency-budget-ms``): a default for every operation, stated as one, and
more time for what is slow by design (checking or hashing a password, an export)."""

from __future__ import annotations

from conformance.contract import Spec
from conformance.drafting._model import Action
from conformance.drafting._reading import find, segments
from conformance.drafting._words import EXPORTS, PASSWORDS

#: CONTRACT.md §7: the p95 of an operation's 2xx answers, over at least 20 samples
DEFAULT_MS = 200
#: a password is checked or hashed with a deliberately slow function (scrypt, bcrypt, argon2:
#: tens of milliseconds of CPU at their recommended costs, more on a busy machine)
PASSWORD_MS = 500
#: an export reads many records at once
EXPORT_MS = 3000


def budgets(spec: Spec) -> list[Action]:
    """The root default (where the spec has none) and the operations that need more."""
    actions: list[Action] = []
    if "x-latency-budget-ms" not in spec.data:
        actions.append(
            Action(
                "",
                "x-latency-budget-ms",
                DEFAULT_MS,
                f"a default, not read from the spec: {DEFAULT_MS} ms for the p95 of every"
                " operation's 2xx answers (CONTRACT.md §7); set it to what your API promises",
            )
        )
    for operation in spec.operations:
        if "x-latency-budget-ms" in operation.definition:
            continue
        if find(spec, spec.request_schema(operation), PASSWORDS, {"string"}, 2) is not None:
            budget, why = PASSWORD_MS, "it takes a password, which is checked or hashed slowly"
        elif operation.method == "get" and any(EXPORTS.match(part) for part in segments(operation)):
            budget, why = EXPORT_MS, "it is an export, which reads many records at once"
        else:
            continue
        actions.append(
            Action(
                operation.pointer,
                "x-latency-budget-ms",
                budget,
                f"{operation.operation_id or operation.label}: {why}; {budget} ms is a default"
                " for such an operation",
            )
        )
    return actions

"""The diff of two specs: every comparison of the registry (`_model.ROOT_COMPARISONS`, then
`_model.OPERATION_COMPARISONS` on each operation both specs have), in the spec's order."""

from __future__ import annotations

import datetime as dt

from conformance.contract import Spec

# the comparison modules register themselves when imported
from conformance.diffing import _declarations, _operations  # noqa: F401
from conformance.diffing._model import OPERATION_COMPARISONS, ROOT_COMPARISONS, Change, Pair


def diff(old: Spec, new: Spec, today: dt.date | None = None) -> list[Change]:
    """Every change from ``old`` to ``new`` an old client could feel; ``today`` judges the
    sunsets (the machine's date when None)."""
    pair = Pair(old, new, today or dt.date.today())
    found = [found for compare in ROOT_COMPARISONS for found in compare(pair)]
    order: dict[str | None, int] = {None: -1}
    for before, after in pair.matched():
        for operation in (before, after):
            if operation is not None:
                order.setdefault(operation.label, len(order))
        if before is not None and after is not None:
            for compare_operation in OPERATION_COMPARISONS:
                found.extend(compare_operation(pair, before, after))
    # the whole spec's changes first, then each operation's in the old spec's order
    return sorted(found, key=lambda change: order.get(change.operation, len(order)))

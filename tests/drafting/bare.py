"""Bare copies of the bundled specs (every ``x-`` key removed, at every depth): what a team's
published spec looks like before `conformance init`, with the hand-written declarations of the
bundled spec as the yardstick of the draft.

Run as a script, it prints how close the draft of each bare copy comes to the hand-written
declarations (`conformance.drafting.closeness`):

    .venv/bin/python -m tests.drafting.bare
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from conformance.contract import BUNDLED_APIS, bundled_spec, load_spec, read_document
from conformance.drafting import Tally, closeness, draft, table


def stripped(node: Any) -> Any:
    """``node`` without any member whose name starts with ``x-``, at any depth."""
    if isinstance(node, dict):
        return {
            key: stripped(value)
            for key, value in node.items()
            if not (isinstance(key, str) and key.startswith("x-"))
        }
    if isinstance(node, list):
        return [stripped(item) for item in node]
    return node


def bare_copy(api: str, folder: Path) -> Path:
    """The bundled spec of ``api`` without its declarations, as ``folder/<api>.json`` (read with
    the contract's own reader, so its values are the ones the suite reads)."""
    path = folder / f"{api}.json"
    data = stripped(read_document(bundled_spec(api)).data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def measured(api: str, folder: Path) -> list[Tally]:
    """How close the draft of ``api``'s bare copy comes to its hand-written declarations."""
    return closeness(draft(load_spec(bare_copy(api, folder))), load_spec(bundled_spec(api)))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for api in BUNDLED_APIS:
            sys.stdout.write(f"{api}: the draft of its bare copy against its hand-written spec\n")
            for line in table(measured(api, Path(folder))):
                sys.stdout.write(f"  {line}\n")


if __name__ == "__main__":
    main()

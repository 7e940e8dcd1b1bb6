"""`conformance init` on bare copies of the bundled specs (`tests.drafting.bare`: every ``x-``
key removed): the draft against the declarations written by hand. The scenarios it turns on are
run against the reference backend in `test_end_to_end.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.contract import BUNDLED_APIS, bundled_spec, load_spec, read_document
from conformance.drafting import draft, overlay_text, table
from tests.drafting.bare import bare_copy, measured

#: api -> declaration -> how many drafted ones at least are the hand-written ones (the whole
#: measure: ``.venv/bin/python -m tests.drafting.bare``, and ARCHITECTURE.md's "drafting/")
FLOORS = {
    "gloria": {"x-unique": 4, "x-references": 40, "x-owner": 2},
    "tchat": {"x-unique": 1, "x-references": 5, "x-owner": 1},
}


@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_init_drafts_the_hand_written_auth_flow(api: str, tmp_path: Path) -> None:
    found = draft(load_spec(bare_copy(api, tmp_path)))
    (action,) = found.of("x-auth-flow")
    assert action.value == read_document(bundled_spec(api)).data["x-auth-flow"]
    assert "login: POST /auth/login (login) takes /email and /password" in action.why


@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_the_draft_of_a_bare_copy_is_read_as_the_run_reads_it(api: str, tmp_path: Path) -> None:
    bare = bare_copy(api, tmp_path)
    found = draft(load_spec(bare))
    overlay = tmp_path / "draft.yaml"
    overlay.write_text(overlay_text(found, "conformance run …"), encoding="utf-8")
    spec = load_spec(bare, overlays=[overlay])
    assert spec.overlay_problems == ()
    assert spec.declaration_problems == ()
    hand = load_spec(bundled_spec(api))
    assert spec.declarations.auth_flow == hand.declarations.auth_flow
    assert set(spec.declarations.roles or ()) == set(hand.declarations.roles or ())
    assert spec.declarations.latency_budget_ms == 200
    budgets = {op.operation_id: op.latency_budget_ms for op in spec.operations}
    assert budgets == {op.operation_id: op.latency_budget_ms for op in hand.operations}
    assert not spec.declarations.strict
    assert spec.declarations.rate_limit is None


@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_the_draft_comes_close_to_the_declarations_written_by_hand(
    api: str, tmp_path: Path
) -> None:
    tallies = {tally.extension: tally for tally in measured(api, tmp_path)}
    print(api, *table(list(tallies.values())), sep="\n  ")  # shown with -s
    flow = tallies["x-auth-flow"]
    assert flow.matching == flow.written == flow.drafted  # every step, exactly
    for name in ("x-roles (root)", "x-latency-budget-ms (root)"):
        assert tallies[name].matching == 1
    operations = tallies["x-latency-budget-ms (operations)"]
    assert operations.matching == operations.written
    references = tallies["x-references"]
    assert references.missed == references.differing == 0
    for name, floor in FLOORS[api].items():
        assert tallies[name].matching >= floor, tallies[name]
    assert tallies["x-owner"].differing == 0

"""From a bare spec to the scenarios: `conformance init` on a bare copy of each bundled spec
(`tests.drafting.bare`), then ``conformance run --spec BARE --overlay DRAFT`` of the scenarios
the draft turns on, against the reference backend serving its own hand-written spec (never the
bare copy and the draft: a wrong draft must be able to fail here)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conformance.cli import run
from conformance.contract import BUNDLED_APIS
from conformance.reference import running
from conformance.runner import embedded_settings
from tests.drafting.bare import bare_copy
from tests.suite.helpers import as_service

SCENARIOS = ("auth_refresh", "rollback", "conflicts", "latency")

#: api -> steps that pass only with what the draft declared (a reference resolved by the
#: maker, a unique key, the refresh step's token)
PROOF = {
    "gloria": (
        "Department: a create answers the client's optimistic item",  # schoolId: x-references
        "Department: a create with the schoolId=",  # x-unique [[schoolId, code]]
        "a refresh returns a new pair",  # x-auth-flow refresh, token in the body
    ),
    "tchat": (
        "ContentItem: a create answers the client's optimistic item",  # category: x-references
        "User: a create with the email=",  # x-unique [email]
        "a refresh returns a new pair",  # x-auth-flow refresh, token as the bearer
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_init_on_a_bare_spec_turns_the_scenarios_on_and_they_pass(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, draft = bare_copy(api, tmp_path), tmp_path / "conformance.overlay.yaml"
    out = io.StringIO()
    assert run(["init", "--spec", str(bare), "--out", str(draft)], out, io.StringIO()) == 0
    with running([api], settings=embedded_settings()) as backends:
        as_service(monkeypatch, backends, api)
        err = io.StringIO()
        code = run(
            ["run", "--target", f"{api}={backends.url(api)}", "--spec", str(bare),
             "--overlay", str(draft), "--reports", str(tmp_path / "reports"),
             "-m", "scenario", "-k", " or ".join(SCENARIOS), "-p", "no:cacheprovider"],
            io.StringIO(), err,
        )  # fmt: skip
    document = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    outcomes = {found["name"]: found["outcome"] for found in document["scenarios"]}
    assert outcomes == dict.fromkeys(SCENARIOS, "passed"), err.getvalue()[-3000:]
    assert code == 0
    passed = [
        step["title"]
        for found in document["scenarios"]
        for step in found["steps"]
        if step["outcome"] == "passed"
    ]
    for proof in PROOF[api]:
        assert any(title.startswith(proof) for title in passed), proof
    measured = [row for row in document["latency"] if row["outcome"] == "met"]
    assert measured, document["latency"]

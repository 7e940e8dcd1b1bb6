"""Excluded and dangerous operations, end to end, on a third-party API: the Notes app of
`tests.suite.test_third_party` (its plain spec, no ``x-`` declarations) with a ``GET /createdb``
that really wipes its data, as one published API has, and an ordinary ``GET /stats``.

Against a shared target the run lists the reset before it starts, with the line that includes
it again, never calls it, and the app's data survives; ``--exclude`` and an overlay's
``x-exclude`` keep ordinary operations out the same way; ``--environment disposable`` and
``--include`` bring the reset back. A selector that names no operation is one sentence, exit 3.
"""

from __future__ import annotations

import collections
import copy
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conformance.cli import run
from tests.plain_specs import json_answer, ref, written
from tests.servers import serving
from tests.suite.test_third_party import NOTES, TOKEN, Notes

#: the Notes spec with the reset and the statistics
SPEC: dict[str, Any] = copy.deepcopy(NOTES)
SPEC["paths"]["/createdb"] = {
    "get": {
        "summary": "Create the database",
        "operationId": "createDb",
        "responses": {"200": json_answer(ref("Health"), "Created")},
    }
}
SPEC["paths"]["/stats"] = {
    "get": {
        "summary": "Statistics",
        "operationId": "getStats",
        "responses": {"200": json_answer(ref("Health"), "The statistics")},
    }
}
#: what the app holds before any run, and must still hold after a shared one
SEEDED = {1: {"id": 1, "title": "kept", "body": "", "done": False}}
OVERLAY = """\
overlay: 1.0.0
info: {title: leave the health check alone, version: 1.0.0}
actions:
  - target: $.paths['/health'].get
    update: {x-exclude: a load balancer watches it}
  - target: $
    update: {x-latency-budget-ms: 5000}
"""


class ResettableNotes(Notes):
    """The Notes app, with a reset that drops every note and statistics; it counts the calls
    of each."""

    calls: ClassVar[collections.Counter[str]]

    def _handle(self) -> None:
        path = self.path.partition("?")[0]
        if path in ("/createdb", "/stats", "/health"):
            self.calls[f"{self.command} {path}"] += 1
        if path == "/createdb" and self.command == "GET":
            with self.lock:
                self.notes.clear()
            return self.send_json(200, {"status": "created"})
        if path == "/stats" and self.command == "GET":
            return self.send_json(200, {"status": f"{len(self.notes)} notes"})
        if path in ("/createdb", "/stats"):
            return self.send_json(405, {"detail": "Method Not Allowed"}, Allow="GET")
        return super()._handle()


@pytest.fixture
def app() -> Iterator[tuple[str, type[ResettableNotes]]]:
    """The app on a free loopback port, with its seeded note: its URL and its class (the
    notes and the calls)."""
    handler = type(
        "ResettableNotes",
        (ResettableNotes,),
        {"notes": copy.deepcopy(SEEDED), "ids": itertools.count(2), "calls": collections.Counter()},
    )
    with serving(handler) as url:
        yield url, handler


def conformance(
    spec: Path, url: str, reports: Path, monkeypatch: pytest.MonkeyPatch, *more: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("CONFORMANCE_NOTES_TOKEN", TOKEN)
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["run", "--spec", str(spec), "--target", url, "--profile", "smoke", "--seed", "1",
         "--reports", str(reports), "--no-html-report", "-p", "no:cacheprovider", *more],
        out, err,
    )  # fmt: skip
    return code, out.getvalue(), err.getvalue()


def verdict(reports: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    return found


@pytest.mark.slow
def test_a_shared_run_never_calls_the_reset_nor_what_is_excluded_and_says_so(
    app: tuple[str, type[ResettableNotes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = app
    spec = written(tmp_path, "notes", SPEC)
    overlay = tmp_path / "notes.overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    reports = tmp_path / "r"
    code, out, err = conformance(
        spec, url, reports, monkeypatch, "--overlay", str(overlay), "--exclude", "getStats"
    )
    said = out + err
    # listed before the run, one line each, the reset with the line that includes it again
    assert (
        "conformance: notes: GET /createdb is left out: its path says it creates the database"
        ' (the target is shared); test it with --include "GET /createdb" or [run] include ='
        ' ["GET /createdb"], or every such operation with --environment disposable'
    ) in out, said
    assert 'conformance: notes: GET /stats is left out: exclude "getStats"' in out, said
    assert (
        "conformance: notes: GET /health is left out: x-exclude: a load balancer watches it"
    ) in out, said
    # never called, by the fuzzing, the probes or the scenarios (the latency scenario, which
    # the overlay's budget turns on, reads every operation it can call); the data survives
    assert dict(handler.calls) == {}, said
    assert handler.notes.get(1) == SEEDED[1], said
    document = verdict(reports)
    assert document["environment"] == "shared"
    assert [(e["operation"], e["by"]) for e in document["excluded"]] == [
        ("GET /health", "x-exclude"),
        ("GET /createdb", "danger"),
        ("GET /stats", "exclude"),
    ]
    (latency,) = [s for s in document["scenarios"] if s["name"] == "latency"]
    assert latency["outcome"] == "passed", latency
    assert latency["requests"] > 0, latency
    judged = {operation["label"] for operation in document["operations"]}
    assert judged.isdisjoint({"GET /health", "GET /createdb", "GET /stats"}), judged
    assert judged, said
    assert (code, document["verdict"]) == (0, "pass"), said
    summary = (reports / "summary.md").read_text(encoding="utf-8")
    assert "### Excluded" in summary
    assert "environment shared" in summary


@pytest.mark.slow
def test_a_disposable_run_or_an_include_fuzzes_the_reset(
    app: tuple[str, type[ResettableNotes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = app
    spec = written(tmp_path, "notes", SPEC)
    for n, chosen in enumerate(
        (["--environment", "disposable"], ["--include", "GET /createdb"]), start=1
    ):
        reports = tmp_path / f"r{n}"
        before = handler.calls["GET /createdb"]
        code, out, err = conformance(spec, url, reports, monkeypatch, *chosen, "-k", "createDb")
        assert "GET /createdb is left out" not in out, out + err
        assert handler.calls["GET /createdb"] > before, (chosen, out + err)
        document = verdict(reports)
        assert document["environment"] == ("disposable" if n == 1 else "shared")
        assert [o["label"] for o in document["operations"]] == ["GET /createdb"]
        assert document["excluded"] == []
        assert (code, document["verdict"]) == (0, "pass"), out + err
    assert handler.notes == {}  # it did wipe the data: the run was right to leave it out


def test_a_selector_that_names_no_operation_is_one_sentence_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = written(tmp_path, "notes", SPEC)
    # no app: the selectors are checked before the target is asked anything
    code, out, err = conformance(
        spec, "http://127.0.0.1:9", tmp_path / "r", monkeypatch, "--exclude", "resetDatabase"
    )
    assert code == 3, out
    assert err == (
        'exclude "resetDatabase" matches no operation of notes; write an operationId,'
        ' "METHOD /path", a path or "tag:NAME" as the spec writes it\n'
    )


def test_list_rules_says_what_the_run_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = written(tmp_path, "notes", SPEC)
    monkeypatch.chdir(tmp_path)
    for chosen, left in (
        ([], ["  left out: GET /createdb: its path says it creates the database"]),
        (["--environment", "disposable"], []),
        (["--include", "createDb", "--exclude", "tag:nope"], None),
    ):
        out, err = io.StringIO(), io.StringIO()
        code = run(["run", "--spec", str(spec), "--list-rules", *chosen], out, err)
        if left is None:
            assert code == 3
            assert err.getvalue().startswith('exclude "tag:nope" matches no operation of notes')
            continue
        assert code == 0, err.getvalue()
        assert [line for line in out.getvalue().splitlines() if "left out" in line] == left
        operations = "7 operations" if left else "8 operations"
        assert operations in out.getvalue().splitlines()[0]


def test_the_plugin_gives_the_suite_its_environment_and_a_spec_without_what_is_left_out(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import plugin

    monkeypatch.setenv("CONFORMANCE_NOTES_TOKEN", TOKEN)
    spec = written(tmp_path, "notes", SPEC)
    given = ["--conformance-target", "notes=http://127.0.0.1:9", "--conformance-spec"]
    for words, disposable, left in (
        ([], False, ["GET /createdb"]),
        (["--conformance-environment", "disposable", "--conformance-exclude", "/stats"], True,
         ["GET /stats"]),
    ):  # fmt: skip
        suite = plugin._open_run(pytester.parseconfig(*given, f"notes={spec}", *words))
        target = suite.targets["notes"]
        assert suite.disposable is disposable
        assert [excluded.label for excluded in target.excluded] == left
        labels = {operation.label for operation in target.spec.operations}
        assert labels.isdisjoint(left)
        assert len(labels) == 7


def test_the_listing_says_why_and_how_to_test_each_operation_after_all(tmp_path: Path) -> None:
    from conformance import config
    from conformance.runner import excluded_lines, run_spec

    spec = written(tmp_path, "notes", SPEC)
    settings = config.load(None, {}, discover=False, exclude=["getStats"])
    _, left_out = run_spec(spec, (), settings)
    assert excluded_lines("notes", left_out) == [
        "conformance: notes: GET /createdb is left out: its path says it creates the database"
        ' (the target is shared); test it with --include "GET /createdb" or [run] include ='
        ' ["GET /createdb"], or every such operation with --environment disposable',
        'conformance: notes: GET /stats is left out: exclude "getStats"',
    ]


def test_the_environment_and_what_was_left_out_survive_verdict_json_and_merge() -> None:
    from conformance.runner import _merged
    from conformance.verdict import ExcludedOperation, Run

    left = ExcludedOperation("notes", "GET /createdb", "createDb", "danger", "its path says …")
    run = Run([], [], 1, "smoke", environment="disposable", excluded=[left])
    again = Run.from_json(json.loads(json.dumps(run.as_json())))
    assert (again.environment, again.excluded) == ("disposable", [left])
    merged = _merged([again, Run.from_json(run.as_json())], {})
    assert (merged.environment, merged.excluded) == ("disposable", [left])
    assert Run.from_json({}).environment == "shared"  # an older verdict.json

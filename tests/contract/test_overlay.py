"""OpenAPI Overlay 1.0: reading an overlay, applying its actions (update merged, arrays appended,
remove), the problems of actions that change nothing, where each overlaid part was written, and
a bad overlay file as one sentence (exit 3)."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cli import run
from conformance.contract import (
    apply_overlay,
    bundled_spec,
    load_overlay,
    load_spec,
    read_document,
    read_overlay,
)
from conformance.errors import OverlayError, SpecError
from conformance.lint import lint_path, lint_spec

SPEC = """\
openapi: 3.0.3
info: {title: Notes, version: "1"}
tags:
  - name: a
  - name: b
  - name: c
paths:
  /notes:
    get:
      operationId: listNotes
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
        - {name: dummy, in: query, schema: {type: string}}
      responses:
        "200": {description: the notes}
"""
NOTES = "/paths/~1notes/get"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def overlay_of(folder: Path, *actions: dict[str, Any], name: str = "extras.yaml") -> Path:
    """An overlay file of ``actions``, as YAML."""
    document = {"overlay": "1.0.0", "info": {"title": "extras", "version": "1"}}
    text = yaml.safe_dump({**document, "actions": list(actions)}, sort_keys=False)
    return write(folder, name, text)


def applied(tmp_path: Path, *actions: dict[str, Any]) -> Any:
    """The notes spec's document with ``actions`` applied, and their problems."""
    document = read_document(write(tmp_path, "notes.yaml", SPEC))
    return apply_overlay(document, load_overlay(overlay_of(tmp_path, *actions)))


# --- applying ---------------------------------------------------------------------------------


def test_overlay_update_merges_objects_appends_to_arrays_and_replaces_values(
    tmp_path: Path,
) -> None:
    source = read_document(write(tmp_path, "notes.yaml", SPEC))
    before = copy.deepcopy(source.data)
    overlay = load_overlay(
        overlay_of(
            tmp_path,
            {"target": "$", "update": {"x-contract": "strict", "info": {"version": "2"}}},
            {
                "target": "$.paths['/notes'].get",
                "update": {
                    "x-latency-budget-ms": 300,
                    "parameters": [{"name": "page", "in": "query"}],
                    "responses": {"200": {"x-note": True}},
                },
            },
            {"target": "$.tags", "update": {"name": "d"}},
        )
    )
    document, problems = apply_overlay(source, overlay)
    assert problems == ()
    data = document.data
    assert data["x-contract"] == "strict"
    assert data["info"] == {"title": "Notes", "version": "2"}  # merged: title kept
    notes = data["paths"]["/notes"]["get"]
    assert notes["x-latency-budget-ms"] == 300
    assert [p["name"] for p in notes["parameters"]] == ["limit", "dummy", "page"]
    assert notes["responses"]["200"] == {"description": "the notes", "x-note": True}
    assert [tag["name"] for tag in data["tags"]] == ["a", "b", "c", "d"]  # one entry appended
    assert source.data == before  # the document given is not changed
    assert document.overlays == (overlay.path,)


def test_overlay_remove_drops_what_its_target_selects(tmp_path: Path) -> None:
    document, problems = applied(
        tmp_path,
        {"target": "$.paths.*.get.parameters[?@.name == 'dummy']", "remove": True},
        {"target": "$.tags[?@.name != 'b']", "remove": True},
        {"target": "$.info.version", "remove": True},
    )
    assert problems == ()
    assert [p["name"] for p in document.data["paths"]["/notes"]["get"]["parameters"]] == ["limit"]
    assert document.data["tags"] == [{"name": "b"}]
    assert document.data["info"] == {"title": "Notes"}
    # the remaining tag moved up from line 5; its line moved with it
    assert document.line_of("/tags/0") == 5
    assert document.line_of("/tags/1") == 3  # gone: its nearest ancestor's line


def test_overlay_actions_apply_in_order_each_to_the_result_of_the_one_before(
    tmp_path: Path,
) -> None:
    document, problems = applied(
        tmp_path,
        {"target": "$.paths['/notes'].get", "remove": True},
        {"target": "$.paths['/notes']", "update": {"get": {"operationId": "again"}}},
    )
    assert problems == ()
    assert document.data["paths"]["/notes"] == {"get": {"operationId": "again"}}


def test_overlay_parts_it_wrote_point_at_the_overlay_and_the_rest_at_the_spec(
    tmp_path: Path,
) -> None:
    document, _ = applied(
        tmp_path,
        {"target": "$.paths['/notes'].get", "update": {"x-rate-limit": {"limit": 5}}},
    )
    extras = tmp_path / "extras.yaml"
    line = extras.read_text(encoding="utf-8").splitlines().index("      limit: 5") + 1
    assert document.origin_of(f"{NOTES}/x-rate-limit/limit") == (extras, line)
    assert document.line_of(f"{NOTES}/x-rate-limit/limit") is None  # not a line of the spec
    assert document.origin_of(f"{NOTES}/operationId") == (tmp_path / "notes.yaml", 10)


@pytest.mark.parametrize(
    ("action", "member", "says"),
    [
        ({"target": "$.paths['/nope'].get", "update": {"x-a": 1}}, "target",
         "action 1 ($.paths['/nope'].get) matches nothing in notes.yaml"),
        ({"target": "$.paths[", "update": {"x-a": 1}}, "target",
         "action 1 ($.paths[) is not an RFC 9535 JSONPath query: unexpected end of query"),
        ({"target": "paths", "update": {"x-a": 1}}, "target",
         "is not an RFC 9535 JSONPath query"),
        ({"target": "$.info", "update": ["x-a"]}, "update",
         "has an update that is not an object, so it cannot be merged into the object at"
         " $['info']"),
        ({"target": "$.info.title", "update": {"x-a": 1}}, "target",
         "selects a value, not an object or an array, at $['info']['title']"),
        ({"target": "$.info"}, "", "has neither an update nor remove: true"),
        ({"update": {"x-a": 1}}, "", "action 1 has no target"),
        ({"target": "$.info", "remove": "yes"}, "remove", "has a remove that is not true"),
        ({"target": "$", "remove": True}, "target", "would remove the whole document"),
        ({"target": "$.info", "copy": "$.tags", "update": {}}, "copy",
         "'copy', which is not a field of an Overlay 1.0 action (copy is Overlay 1.1's)"),
    ],
    ids=["nothing", "syntax", "no-root", "not-object", "value", "no-change", "no-target",
         "remove-type", "root", "copy"],
)  # fmt: skip
def test_overlay_action_that_cannot_apply_is_a_problem_with_its_line(
    tmp_path: Path, action: dict[str, Any], member: str, says: str
) -> None:
    document, problems = applied(tmp_path, action)
    (problem,) = problems
    assert says in problem.message
    assert problem.pointer == "/actions/0" + (f"/{member}" if member else "")
    assert (problem.line or 0) > 3  # the action's line in the overlay
    assert document.overlay_problems == problems


def test_overlay_problems_and_overlaid_declarations_lint_at_the_overlay_s_lines(
    tmp_path: Path,
) -> None:
    spec = write(tmp_path, "notes.yaml", SPEC)
    extras = overlay_of(
        tmp_path,
        {
            "target": "$.paths['/notes'].get",
            "update": {"x-rate-limit": {"limit": 0, "window_s": 1}},
        },
        {"target": "$.paths['/gone']", "update": {"x-roles": []}},
    )
    text = extras.read_text(encoding="utf-8").splitlines()
    result = lint_path(spec, overlays=[extras])
    (unmatched,) = [f for f in result.findings if f.rule.id == "CT005"]
    assert (unmatched.path, unmatched.line) == (
        extras,
        text.index("- target: $.paths['/gone']") + 1,
    )
    assert unmatched.pointer == "/actions/1/target"
    (limit,) = [f for f in result.findings if f.pointer == f"{NOTES}/x-rate-limit/limit"]
    assert "0 is less than the minimum of 1" in limit.message
    assert (limit.path, limit.line) == (extras, text.index("      limit: 0") + 1)
    assert result.failed
    assert "CT005" not in {f.rule.id for f in lint_path(spec).findings}


def test_overlay_read_from_json_and_from_data(tmp_path: Path) -> None:
    action = {"target": "$", "update": {"x-latency-budget-ms": 250}}
    document = {"overlay": "1.0.1", "info": {"title": "t", "version": "1"}, "actions": [action]}
    from_json = write(tmp_path, "extras.json", json.dumps(document))
    spec = write(tmp_path, "notes.yaml", SPEC)
    assert load_spec(spec, [from_json]).declarations.latency_budget_ms == 250
    drafted = read_overlay(document)  # what `conformance init` drafts, applied in memory
    assert load_spec(spec, [drafted]).declarations.latency_budget_ms == 250
    assert load_spec(spec).declarations.latency_budget_ms is None


# --- a bad overlay file: one sentence, exit 3 --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("actions: [\n", "not valid YAML"),
        ("", "the document is a single value, not an overlay"),
        ("- a\n", "the document is a list, not an overlay"),
        (SPEC, "is an OpenAPI document, not an overlay"),
        ("info: {title: t, version: '1'}\nactions: []\n", "no 'overlay' version field"),
        ("overlay: 1.1.0\n", "overlay='1.1.0' is not a supported version; this reads OpenAPI"
         " Overlay 1.0"),
        ("overlay: 1.0\n", "overlay=1.0 is not a supported version"),
        ("overlay: 1.0.0\nactions: [{target: $, remove: true}]\n", "info needs a title and a"
         " version"),
        ("overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions: []\n", "actions must be a list"
         " of at least one action"),
        ("overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions: [a]\n", "action 1 is a string,"
         " not an action"),
        ("overlay: 1.0.0\ninfo: {title: t, version: '1'}\naction: []\n", "'action' is not a field"
         " of an Overlay 1.0 document"),
    ],
    ids=["yaml", "empty", "list", "openapi", "no-version", "version", "float-version", "no-info",
         "no-actions", "action-type", "unknown"],
)  # fmt: skip
def test_overlay_bad_file_is_one_sentence_and_exit_3(tmp_path: Path, text: str, says: str) -> None:
    spec = write(tmp_path, "notes.yaml", SPEC)
    bad = write(tmp_path, "extras.yaml", text)
    with pytest.raises(SpecError) as raised:
        load_spec(spec, [bad])
    assert says in str(raised.value)
    assert str(raised.value).startswith(f"{bad}:")
    out, err = io.StringIO(), io.StringIO()
    assert run(["lint", str(spec), "--overlay", str(bad)], out, err) == 3
    assert err.getvalue() == f"conformance lint: {raised.value}\n"


def test_overlay_missing_file_is_one_sentence(tmp_path: Path) -> None:
    spec = write(tmp_path, "notes.yaml", SPEC)
    with pytest.raises(SpecError, match=r"missing\.yaml: no such file$"):
        load_spec(spec, [tmp_path / "missing.yaml"])
    with pytest.raises(OverlayError, match="info needs a title"):
        read_overlay({"overlay": "1.0.0", "actions": [{"target": "$", "remove": True}]})


# --- the bundled Tchat spec without its declarations, and an overlay that puts some back -------


def bare(node: Any) -> Any:
    """``node`` with every ``x-`` member removed, at every depth: a spec as a team publishes it."""
    if isinstance(node, dict):
        return {k: bare(v) for k, v in node.items() if not str(k).startswith("x-")}
    if isinstance(node, list):
        return [bare(item) for item in node]
    return node


def test_overlay_puts_back_tchat_s_declarations_as_the_spec_writes_them(tmp_path: Path) -> None:
    bundled = load_spec(bundled_spec("tchat"))
    data = read_document(bundled_spec("tchat")).data
    copied = write(tmp_path, "tchat.yaml", yaml.safe_dump(bare(data), sort_keys=False))
    login = data["paths"]["/auth/login"]["post"]
    root = {key: data[key] for key in ("x-auth-flow", "x-rate-limit", "x-latency-budget-ms")}
    extras = overlay_of(
        tmp_path,
        {"target": "$", "update": root},
        {"target": "$.paths['/auth/login'].post",
         "update": {"x-rate-limit": login["x-rate-limit"]}},
        {"target": "$.components.schemas.User",
         "update": {"x-unique": data["components"]["schemas"]["User"]["x-unique"]}},
    )  # fmt: skip
    plain, overlaid = load_spec(copied), load_spec(copied, [extras])
    assert plain.declarations.auth_flow is None  # the test could fail
    for declared in ("auth_flow", "rate_limit", "latency_budget_ms"):
        assert getattr(overlaid.declarations, declared) == getattr(bundled.declarations, declared)
    overlaid_login, bundled_login = overlaid.operation("login"), bundled.operation("login")
    assert overlaid_login is not None
    assert bundled_login is not None
    assert overlaid_login.rate_limit == bundled_login.rate_limit
    user = overlaid.component("User")
    assert user["x-unique"] == bundled.component("User")["x-unique"]
    assert overlaid.declaration_problems == ()
    assert overlaid.overlay_problems == ()
    # the linter reads the same declarations: the rules about them say the same of both
    about = {"CT005", "CT404", "CT603"}  # the overlay itself, x-auth-flow, x-rate-limit

    def said(spec: Any) -> set[str]:
        return {f"{f.rule.id} {f.message}" for f in lint_spec(spec).findings if f.rule.id in about}

    assert said(overlaid) == said(bundled) == set()
    assert said(plain) != set()

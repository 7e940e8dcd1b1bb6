"""The linter joins the catalogue and follows its scopes: a spec without ``x-contract: strict``
gets notes from the house style and findings only where the document itself is unsound."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance import catalogue
from conformance.catalogue import Kind, Scope
from conformance.cli import run
from conformance.lint import RULES, Severity, lint_path
from conformance.lint._model import rule
from tests.conftest import FIXTURES

FASTAPI = FIXTURES / "specs" / "fastapi_notes.json"
PETSTORE = FIXTURES / "specs" / "petstore.yaml"
ITEM = "/notes/{note_id}"


def lint(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["lint", *map(str, argv)], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def fastapi_copy(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], object]], Path]:
    """``fastapi_copy(mutate)``: the FastAPI-style spec changed by ``mutate``, written as JSON."""
    data = json.loads(FASTAPI.read_text(encoding="utf-8"))

    def make(mutate: Callable[[dict[str, Any]], object]) -> Path:
        changed = copy.deepcopy(data)
        mutate(changed)
        path = tmp_path / "notes.json"
        path.write_text(json.dumps(changed, indent=2), encoding="utf-8")
        return path

    return make


def strict(data: dict[str, Any]) -> None:
    data["x-contract"] = "strict"


# --- the join --------------------------------------------------------------------------------


def test_scopes_every_catalogue_lint_rule_has_a_check() -> None:
    listed = catalogue.ids(Kind.LINT)
    assert [rule_id for rule_id in listed if rule_id not in RULES] == []
    assert sorted(RULES) == sorted(listed)
    for rule_id, registered in RULES.items():
        assert registered.entry is catalogue.rule(rule_id)  # joined, not copied
        assert registered.summary == catalogue.rule(rule_id).words
    names = [registered.name for registered in RULES.values()]
    assert "" not in names
    assert len(set(names)) == len(names)  # --ignore takes a name as well as an id


@pytest.mark.parametrize("rule_id", ["CT999", "no_leaks", "login-pair"])
def test_scopes_rule_refuses_an_id_that_is_no_lint_rule_of_the_catalogue(rule_id: str) -> None:
    with pytest.raises(ValueError, match=f"'{rule_id}' is not a lint rule of conformance"):
        rule(rule_id)


def test_scopes_rule_refuses_a_second_check_for_one_rule() -> None:
    before = dict(RULES)
    with pytest.raises(ValueError, match="CT201 input-400 is registered twice"):
        rule("CT201")(lambda ctx: iter(()))
    assert before == RULES


# --- a correct FastAPI-style spec ----------------------------------------------------------------


def test_scopes_fastapi_spec_lints_clean_with_notes() -> None:
    code, out, err = lint(FASTAPI)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith("1 spec linted: clean (")
    assert all(": note" in line for line in out.splitlines()[:-1]), out
    (sentence,) = [line for line in out.splitlines() if "x-contract: strict" in line]
    assert sentence.startswith(f"{FASTAPI}: note: the spec does not declare x-contract: strict,")
    # the house rules a FastAPI spec meets on every operation are named, with their counts
    for rule_id in ("CT102", "CT203", "CT801", "CT601"):
        assert f" {rule_id} (" in sentence
    assert sentence.endswith(" notes, not findings (--verbose lists them)")


def test_scopes_fastapi_spec_verbose_lists_each_note_of_the_house_style() -> None:
    code, out, _ = lint("--verbose", FASTAPI)
    assert code == 0
    assert f"{ITEM.replace('/', '~1')}/get/responses/422: note CT203 forbidden-status:" in out
    assert "(--verbose lists them)" not in out


def test_scopes_fastapi_spec_json_says_which_rules_were_relaxed() -> None:
    code, out, _ = lint("--format", "json", FASTAPI)
    (spec,) = json.loads(out)["specs"]
    assert code == 0
    assert (spec["strict"], spec["declares_contract"]) == (False, False)
    assert {"CT102", "CT203", "CT801"} <= set(spec["relaxed_rules"])
    assert {f["severity"] for f in spec["findings"]} == {"note"}
    relaxed = {f["rule"] for f in spec["findings"] if f["relaxed"]}
    assert relaxed == set(spec["relaxed_rules"])
    # every relaxed rule is of the house style; a rule of the document's soundness never is
    assert all(catalogue.rule(r).scope is Scope.STRICT for r in relaxed)


def test_scopes_fastapi_spec_under_strict_gives_the_house_rules_as_findings(
    fastapi_copy: Callable[[Callable[[dict[str, Any]], object]], Path],
) -> None:
    path = fastapi_copy(strict)
    code, out, _ = lint(path)
    assert code == 1
    findings = [line for line in out.splitlines() if ": note" not in line][:-1]
    for expected in (
        f"#/paths/{ITEM.replace('/', '~1')}/get/responses/422: CT203 forbidden-status:",
        "#/paths/~1notes/get/responses/422: CT102 error-responses:",
        "#/paths/~1notes/get/parameters: CT801 request-id:",
        "#/paths/~1notes/get/responses/200: CT103 success-envelope:",
        "#/paths/~1notes/post/responses: CT602 rate-limit-429:",
    ):
        assert any(expected in line for line in findings), expected
    assert "x-contract: strict, so" not in out
    result = lint_path(path)
    assert result.strict
    assert result.relaxed_rules == ()
    # the same problems as without the opt-in, now findings
    relaxed = lint_path(FASTAPI)
    assert {f.rule.id for f in result.findings if f.severity is Severity.FINDING} == set(
        relaxed.relaxed_rules
    )


# --- what stays a finding on any spec --------------------------------------------------------


def _item(data: dict[str, Any], method: str) -> dict[str, Any]:
    found: dict[str, Any] = data["paths"][ITEM][method]
    return found


UNSOUND = [
    pytest.param(
        "CT002",
        lambda d: _item(d, "get")["responses"]["200"].update({"$ref": "#/components/x/Nope"}),
        id="CT002-broken-ref",
    ),
    pytest.param(
        "CT003",
        lambda d: _item(d, "get")["parameters"][0].update({"in": "body"}),
        id="CT003-not-openapi",
    ),
    pytest.param("CT003", lambda d: d.update({"x-contract": "strickt"}), id="CT003-x-contract"),
    pytest.param(
        "CT004",
        lambda d: d["components"]["schemas"]["Note"].update({"minLenght": 1}),
        id="CT004-unknown-keyword",
    ),
    pytest.param(
        "CT204",
        lambda d: d["paths"].update({"/notes/{id}": {"put": _item(d, "patch")}}),
        id="CT204-same-template",
    ),
    pytest.param(
        "CT402",
        lambda d: _item(d, "get").update({"x-roles": "admin"}),
        id="CT402-malformed-x-roles",
    ),
    pytest.param(
        "CT505",
        lambda d: d["components"]["schemas"]["Note"].update({"x-unique": ["slug"]}),
        id="CT505-x-unique-names-nothing",
    ),
    pytest.param(
        "CT701",
        lambda d: d.update({"x-latency-budget-ms": 0}),
        id="CT701-malformed-budget",
    ),
    pytest.param(
        "CT901",
        lambda d: _item(d, "patch").update({"operationId": "get_note_notes__note_id__get"}),
        id="CT901-duplicate-operation-id",
    ),
    pytest.param(
        "CT903",
        lambda d: d["paths"]["/notes"]["post"]["responses"]["201"].update(
            {"links": {"GetNote": {"operationId": "getNote"}}}
        ),
        id="CT903-link-to-nowhere",
    ),
]


@pytest.mark.parametrize(("rule_id", "mutate"), UNSOUND)
def test_scopes_an_unsound_document_is_a_finding_without_strict(
    fastapi_copy: Callable[[Callable[[dict[str, Any]], object]], Path],
    rule_id: str,
    mutate: Callable[[dict[str, Any]], object],
) -> None:
    result = lint_path(fastapi_copy(mutate))
    assert not result.strict
    reported = [f for f in result.findings if f.rule.id == rule_id]
    assert [f for f in reported if f.severity is Severity.FINDING], [
        (f.severity.value, f.message) for f in reported
    ]
    assert result.failed


def test_scopes_a_house_rule_keeps_its_notes_beside_its_unsound_findings(
    fastapi_copy: Callable[[Callable[[dict[str, Any]], object]], Path],
) -> None:
    # CT901 on a FastAPI spec: a duplicate operationId is a finding; operationIds it accepts
    path = fastapi_copy(
        lambda d: (
            _item(d, "patch").update({"operationId": "get_note_notes__note_id__get"}),
            d["paths"]["/health"]["get"].pop("operationId"),
        )
    )
    reported = {
        f.pointer: (f.severity, f.relaxed) for f in lint_path(path).findings if f.rule.id == "CT901"
    }
    assert reported == {
        f"/paths/{ITEM.replace('/', '~1')}/patch/operationId": (Severity.FINDING, False),
        "/paths/~1health/get": (Severity.NOTE, True),
    }


# --- a third-party spec as it is published ---------------------------------------------------


def test_scopes_petstore_lints_clean_with_notes_and_verbose_lists_them() -> None:
    code, out, _ = lint(PETSTORE)
    assert code == 0
    assert out.splitlines()[-1].startswith("1 spec linted: clean (")
    assert "no x-auth-flow" in out  # a note of its own kind is still shown
    (sentence,) = [line for line in out.splitlines() if "x-contract: strict" in line]
    assert " CT402 (4)" in sentence  # the root, and each of its three operations
    _, verbose, _ = lint("--verbose", PETSTORE)
    assert verbose.count("note CT402 roles-declared") == 4
    assert verbose.count(": note") == len(lint_path(PETSTORE).findings) + 1


def test_scopes_list_rules_marks_the_house_style() -> None:
    code, out, _ = lint("--list-rules")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == set(RULES)
    for rule_id, line in lines.items():
        marked = line.endswith("(a note unless the spec declares x-contract: strict)")
        assert marked == (catalogue.rule(rule_id).scope is Scope.STRICT), line

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import run
from conformance.config import RUN_OPTIONS, Option
from conformance.contract import bundled_spec
from conformance.suite.scenarios import PROBES
from tests.conftest import FIXTURES, SpecCopy
from tests.options import given, no_setting_in_the_environment

PETSTORE = FIXTURES / "specs" / "petstore.yaml"


def lint(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["lint", *map(str, argv)], out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_lint_clean_spec_exits_0() -> None:
    code, out, err = lint(bundled_spec("tchat"))
    assert (code, err) == (0, "")
    assert out.strip() == "1 spec linted: clean (0 notes)"


def test_cli_lint_findings_exit_1_one_line_each(tchat_copy: SpecCopy) -> None:
    path = tchat_copy(lambda d: d["paths"]["/content/sync"]["get"]["responses"].pop("429"))
    code, out, _ = lint(path)
    assert code == 1
    (line,) = [line for line in out.splitlines() if "CT602" in line]
    # file:line, the JSON pointer, the rule, what is wrong, the fix.
    assert line.startswith(f"{path}:")
    assert "#/paths/~1content~1sync/get/responses: CT602 rate-limit-429:" in line
    assert "documents no 429; fix: document 429 with an ErrorResponse body" in line
    assert out.splitlines()[-1] == "1 spec linted: 1 finding, 0 notes"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("a: [\n", ":2: not valid YAML"),
        ("title: not openapi\n", "no 'openapi' version field"),
    ],
)
def test_cli_lint_bad_input_exits_3_with_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "spec.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = lint(path)
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1
    assert expected in err
    assert "Traceback" not in err


def test_cli_lint_reports_what_it_can_and_bad_input_wins(tmp_path: Path) -> None:
    code, out, err = lint(PETSTORE, tmp_path / "missing.yaml")
    assert code == 3
    assert "CT801" in out  # the readable spec was still linted
    assert "missing.yaml: no such file" in err


def test_cli_lint_json_output(tchat_copy: SpecCopy) -> None:
    path = tchat_copy(lambda d: d["paths"]["/content/sync"]["get"]["responses"].pop("429"))
    code, out, _ = lint("--format", "json", path)
    document = json.loads(out)
    assert code == 1
    (finding,) = document["specs"][0]["findings"]
    assert finding["rule"] == "CT602"
    assert finding["severity"] == "finding"
    assert finding["pointer"] == "#/paths/~1content~1sync/get/responses"
    assert isinstance(finding["line"], int)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lint", "--ignore", "CT999"], "--ignore 'CT999' is not a rule id or name"),
        (["lint", "--format", "xml"], "invalid choice: 'xml'"),
        (["lint", "--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_cli_usage_errors_exit_3_naming_the_value(argv: list[str], expected: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(argv, out, err) == 3
    assert expected in err.getvalue()
    assert err.getvalue().count("\n") == 1


def test_cli_lint_lists_every_rule() -> None:
    code, out, _ = lint("--list-rules")
    assert code == 0
    assert len(out.splitlines()) >= 30
    assert out.splitlines()[0].startswith("CT001  yaml-duplicate-key")


def test_cli_lint_defaults_to_the_bundled_specs() -> None:
    code, out, _ = lint()
    present = [api for api in ("gloria", "tchat") if bundled_spec(api).exists()]
    expected = len(present) if len(present) == 2 else 1
    assert out.splitlines()[-1].startswith(f"{expected} spec")
    assert code in (0, 3)  # 3 only while a bundled spec is still missing
    assert code == (0 if len(present) == 2 else 3)


@pytest.mark.parametrize("command", [["conformance"], [sys.executable, "-m", "conformance"]])
def test_cli_console_script_runs_and_exits_with_the_code(command: list[str]) -> None:
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable is not None
    result = subprocess.run(
        [executable, *command[1:], "lint", str(bundled_spec("tchat")), "nope.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "1 spec linted: clean" in result.stdout
    assert result.stderr == "conformance lint: nope.yaml: no such file\n"


def test_cli_readme_rule_table_names_every_rule() -> None:
    from conformance.lint import ordered_rules

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [rule.name for rule in ordered_rules() if f"`{rule.name}`" not in readme]
    assert missing == []


#: a plain spec, as a third-party API publishes one: no x- declarations at all; one list
#: declares X-Request-ID on its answer, the item read does not
PLAIN = """
openapi: "3.0.3"
info: {title: Items, version: "1"}
paths:
  /items:
    get:
      operationId: listItems
      responses:
        "200":
          description: the items
          headers:
            X-Request-ID: {schema: {type: string}}
          content:
            application/json: {schema: {type: array, items: {type: string}}}
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: the item
          content:
            application/json: {schema: {type: string}}
        "404":
          description: no such item
"""


def run_command(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["run", *map(str, argv)], out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_run_list_rules_says_which_rules_apply_where_and_why(tmp_path: Path) -> None:
    spec = tmp_path / "items.yaml"
    spec.write_text(PLAIN, encoding="utf-8")
    reports = tmp_path / "reports"
    # a target that cannot be reached: listing the rules sends nothing, starts nothing
    code, out, err = run_command(
        "--list-rules", "--spec", spec, "--target", "http://127.0.0.1:9", "--reports", reports
    )
    assert (code, err) == (0, "")
    lines = out.split("\n\n")[0].splitlines()  # the API's block; the probes' follow
    assert lines[0] == (
        f"items: {spec} (2 operations; no x-contract: strict, so a contract rule applies where"
        " the spec declares what it checks)"
    )
    rows = {line.split()[0]: " ".join(line.split()) for line in lines[1:] if line[2] != " "}
    assert rows["not_a_server_error"] == (
        "not_a_server_error blocker on for all 2 operations: applies to every answer"
    )
    (request_id,) = [n for n, line in enumerate(lines) if line.startswith("  request_id ")]
    assert lines[request_id].endswith("on for GET /items: response 200 declares X-Request-ID")
    assert lines[request_id + 1].strip() == (
        "off for GET /items/{id}: response 200 has no X-Request-ID"
    )
    assert rows["exercised"].endswith(
        "off for all 2 operations: untested is no failure without the strict opt-in"
        " (--require-exercised makes it one)"
    )
    assert not reports.exists()
    _, required, _ = run_command("--list-rules", "--spec", spec, "--require-exercised")
    assert "on for all 2 operations: the run asks for it (--require-exercised)" in required


def test_cli_run_list_rules_defaults_to_the_bundled_specs_under_the_strict_opt_in() -> None:
    code, out, _ = run_command("--list-rules")
    assert code == 0
    *blocks, probes = out.split("\n\n")
    assert [block.split(":")[0] for block in blocks] == ["gloria", "tchat"]
    # the security probes once, after the APIs: each with when it applies, then their rules
    # with severity, OWASP category and whether a finding fails the gate
    assert probes.startswith("security probes (OWASP API Security Top 10, 2023")
    for probe in PROBES:
        assert f"\n  {probe} " in probes
    assert "API1:2023 Broken Object Level Authorization (fails the gate)" in probes
    assert "(warning, never fails the gate)" in probes
    for block in blocks:
        # strict: every rule is one line, on for every operation
        assert all(" on for all " in line for line in block.splitlines()[1:]), block
        assert len(block.splitlines()) <= 25  # one screen an API


@pytest.mark.parametrize(
    "option", [option for option in RUN_OPTIONS if option.flag], ids=lambda option: option.flag
)
def test_cli_run_hands_each_setting_s_flag_to_the_run(
    option: Option, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import runner

    monkeypatch.chdir(tmp_path)  # no conformance.toml, no waivers.toml
    no_setting_in_the_environment(monkeypatch)
    words, value = given(option, tmp_path)
    told: list[runner.RunOptions] = []

    def execute(options: runner.RunOptions, out: object, err: object) -> int:
        told.append(options)
        return 0

    monkeypatch.setattr(runner, "execute", execute)
    assert run(["run", *words], io.StringIO(), io.StringIO()) == 0
    (options,) = told
    assert getattr(options.settings(), option.key) == value


def test_an_error_the_interrupt_caused_ends_the_run_as_interrupted_and_no_other_error_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On CPython 3.11.7 a Ctrl-C landing inside ``ast.parse`` surfaces as a ``SystemError``
    (gh-106905): a serial run interrupted there ended as an internal error (exit 3) in a fresh
    clone's ``make test``. After the run's SIGINT any error ends it as interrupted (exit 2); the
    same error without an interrupt is still an internal error."""
    import os
    import signal
    import time

    import conformance.cli as cli
    from conformance.suite import sigterm_interrupts

    mismatch = "AST constructor recursion depth mismatch (before=90, after=215)"

    def interrupted_inside_ast(args: object, out: object, err: object) -> int:
        with sigterm_interrupts():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler raises at once
            except KeyboardInterrupt:
                raise SystemError(mismatch) from None
        raise AssertionError("the SIGINT did not arrive")

    def broken(args: object, out: object, err: object) -> int:
        raise SystemError(mismatch)

    for command, code, said in (
        (interrupted_inside_ast, 2, "conformance: interrupted (it surfaced as SystemError"),
        (broken, 3, "conformance: internal error: SystemError"),
    ):
        monkeypatch.setattr(cli, "_run", command)
        out, err = io.StringIO(), io.StringIO()
        assert run(["run"], out, err) == code, err.getvalue()
        assert err.getvalue().startswith(said), err.getvalue()

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import run
from conformance.contract import bundled_spec
from tests.conftest import FIXTURES, SpecCopy

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


def test_cli_lint_third_party_spec_gets_notes_for_declaration_rules() -> None:
    code, out, _ = lint(PETSTORE)
    assert code == 1  # it does break contract rules that need no declarations (CT801 …)
    declaration_rules = ("CT402", "CT403", "CT404", "CT405", "CT603", "CT701", "CT904")
    for line in out.splitlines():
        if any(f" {rule} " in line for rule in declaration_rules):
            assert ": note CT" in line or line.startswith(f"{PETSTORE}: note")
    assert "no x-roles, x-auth-flow, x-rate-limit or x-latency-budget-ms" in out
    assert "1 more like the above (--verbose shows them)" in out
    _verbose_code, verbose_out, _ = lint("--verbose", PETSTORE)
    # One note for the root, one per operation (3): three shown, then the count of the rest.
    shown = [line for line in out.splitlines() if "note CT402" in line]
    assert len(shown) == 4
    assert shown[-1].endswith("CT402 roles-declared: 1 more like the above (--verbose shows them)")
    assert verbose_out.count("note CT402") == 4


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

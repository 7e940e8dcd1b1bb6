"""``conformance diff`` as a user runs it: files and git revisions, the bundled specs against
themselves and against mutated copies, the three forms, the exit codes, diff waivers (and the
run's, which it ignores) and overlays."""

from __future__ import annotations

import copy
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.config import read_toml
from conformance.contract import bundled_spec, read_document
from conformance.diffing import RULES, SCHEMA
from conformance.suite import parse_waivers
from tests.diffing.test_pairs import flags, op, removed_delete

GLORIA = bundled_spec("gloria")
TCHAT = bundled_spec("tchat")


def diff(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["diff", *map(str, argv)], out, err)
    return code, out.getvalue(), err.getvalue()


def written(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def pair(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """``pair(new_mutation)``: the Flags spec as old.json and changed as new.json."""

    def make(mutate: Callable[[dict[str, Any]], object]) -> tuple[Path, Path]:
        old = flags()
        new = copy.deepcopy(old)
        mutate(new)
        return written(tmp_path / "old.json", old), written(tmp_path / "new.json", new)

    return make


# --- the bundled specs ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", [GLORIA, TCHAT], ids=["gloria", "tchat"])
def test_command_a_bundled_spec_against_itself_is_no_change(spec: Path) -> None:
    code, out, err = diff(spec, spec)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith("0 changes (0 breaking, 0 warning, 0 info): passed")


def bundled_copy(spec: Path, folder: Path, mutate: Callable[[dict[str, Any]], object]) -> Path:
    data = copy.deepcopy(read_document(spec).data)
    mutate(data)
    return written(folder / f"{spec.stem}.json", data)


def test_command_gloria_with_an_operation_removed_and_a_required_parameter(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        path, method = next(
            (path, method) for path, item in data["paths"].items() for method in item
            if method == "delete"
        )  # fmt: skip
        del data["paths"][path][method]
        listing = data["paths"]["/schools"]["get"]
        listing.setdefault("parameters", []).append(
            {"name": "team", "in": "query", "required": True, "schema": {"type": "string"}}
        )

    code, out, _ = diff(GLORIA, bundled_copy(GLORIA, tmp_path, mutate))
    assert code == 1
    assert "[breaking] removed-without-deprecation  /paths/" in out
    assert "[breaking] param-required-added  /paths/~1schools/get/parameters/" in out
    assert out.splitlines()[-1] == (
        "2 changes (2 breaking, 0 warning, 0 info): failed, 2 breaking not waived"
    )


def test_command_tchat_with_a_response_member_renamed(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        schemas = data["components"]["schemas"]
        name = next(n for n, s in schemas.items() if "email" in (s.get("required") or []))
        found = schemas[name]
        found["properties"]["mail"] = found["properties"].pop("email")
        found["required"] = [("mail" if r == "email" else r) for r in found["required"]]

    code, out, _ = diff("--format", "json", TCHAT, bundled_copy(TCHAT, tmp_path, mutate))
    document = json.loads(out)
    assert code == 1
    rules = {change["id"] for change in document["changes"]}
    assert {"response-property-removed", "response-property-added"} <= rules
    # renaming in a request body too: a required property gone and a new one required
    assert rules <= {
        "response-property-removed", "response-property-added",
        "request-property-required-added", "request-property-removed",
        "request-property-optional-added",
    }  # fmt: skip


# --- forms and exit codes ----------------------------------------------------------------


def test_command_text_groups_by_operation(pair: Callable[..., tuple[Path, Path]]) -> None:
    def mutate(data: dict[str, Any]) -> None:
        removed_delete(data)
        data["components"]["schemas"]["Flag"]["properties"]["state"]["enum"].append("scheduled")
        data["x-rate-limit"] = {"limit": 10, "window_s": 60}

    old, new = pair(mutate)
    code, out, _ = diff(old, new)
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == f"conformance diff {old} {new}"
    assert lines[1] == "GET /flags (listFlags)"
    assert lines[2].startswith(
        "  [warning] response-enum-value-added  /paths/~1flags/get/responses/200/content/"
        'application~1json/schema/items/properties/state/enum  may also be "scheduled" ('
    )
    assert "DELETE /flags/{id} (deleteFlag)" in lines
    assert lines[-1] == ("4 changes (1 breaking, 3 warning, 0 info): failed, 1 breaking not waived")
    # the x-rate-limit declared anew on the new side only is no change an old client feels
    assert "rate-limit" not in out


def test_command_json_document(pair: Callable[..., tuple[Path, Path]]) -> None:
    old, new = pair(removed_delete)
    code, out, _ = diff("--format", "json", old, new)
    document = json.loads(out)
    assert code == 1
    assert document["schema"] == SCHEMA == "conformance-diff/1"
    assert (document["verdict"], document["fail_on"]) == ("failed", "breaking")
    assert document["counts"] == {"breaking": 1, "warning": 0, "info": 0, "waived": 0}
    (change,) = document["changes"]
    assert change == {
        "id": "removed-without-deprecation", "class": "breaking",
        "operation": "DELETE /flags/{id}", "operation_id": "deleteFlag",
        "pointer": "/paths/~1flags~1{id}/delete", "old": None, "new": None,
        "explanation": "gone, and the old spec did not mark it deprecated",
        "words": RULES["removed-without-deprecation"].words, "waived": None, "detail": [],
    }  # fmt: skip


def test_command_markdown_to_a_file_and_text_to_the_terminal(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    old, new = pair(lambda d: op(d, "get").update({"deprecated": True}))
    summary = tmp_path / "summary.md"
    code, out, _ = diff("--format", "markdown", "--output", summary, old, new)
    text = summary.read_text(encoding="utf-8")
    assert code == 0
    assert text.startswith("## conformance diff: ✅ passed\n")
    assert "| info | `operation-deprecated` | GET /flags/{id} (getFlag) | " in text
    assert out.splitlines()[-1].endswith("passed, no breaking change that old clients would feel")


def test_command_fail_on_warning(pair: Callable[..., tuple[Path, Path]]) -> None:
    old, new = pair(lambda d: op(d, "get").update({"operationId": "readFlag"}))
    assert diff(old, new)[0] == 0
    code, out, _ = diff("--fail-on", "warning", old, new)
    assert code == 1
    assert out.splitlines()[-1].endswith("failed, 1 warning not waived")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["nope.yaml", "{old}"], "nope.yaml: no such file"),
        (["{old}", "{folder}"], "is a directory, not a spec file"),
        (["{bad}", "{old}"], "not valid JSON"),
        (["{old}"], "conformance diff: give OLD and NEW"),
        (["--waivers", "missing.toml", "{old}", "{old}"], "--waivers missing.toml: no such file"),
        (["--target", "ftp://x", "{old}", "{old}"], "the URL must start with http://"),
        (["--overlay", "{bad}", "{old}", "{old}"], "bad.json"),
    ],
)
def test_command_bad_input_is_one_sentence_and_exit_3(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path, argv: list[str], says: str
) -> None:
    old, _ = pair(lambda d: None)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    given = [a.format(old=old, folder=tmp_path, bad=bad) for a in argv]
    code, out, err = diff(*given)
    assert (code, out) == (3, "")
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_command_list_rules() -> None:
    code, out, _ = diff("--list-rules")
    assert code == 0
    assert {line.split()[0] for line in out.splitlines()} == set(RULES)
    assert out.splitlines()[0].split()[1] == "[breaking]"


# --- waivers --------------------------------------------------------------------------------

WAIVER = """
[[waiver]]
rule = "no_leaks"
operation = "getFlag"
reason = "a run's waiver, long expired: the diff does not read it"
ticket = "RUN-1"
expires = 2020-01-01

[[diff-waiver]]
change = "removed-without-deprecation"
path = "{path}"
reason = "the admin UI was its only client"
ticket = "API-311"
expires = {expires}
"""


@pytest.mark.parametrize("path", ["DELETE /flags/{id}", "/flags/{flagId}"])
def test_command_a_diff_waiver_in_force_waives_and_passes(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path, path: str
) -> None:
    old, new = pair(removed_delete)
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVER.format(path=path, expires="2999-12-31"), encoding="utf-8")
    code, out, _ = diff("--waivers", waivers, old, new)
    assert code == 0
    assert "[breaking, waived] removed-without-deprecation" in out
    assert f"waived by diff waiver #1 (removed-without-deprecation on {path}, API-311)" in out
    assert out.splitlines()[-1] == (
        "1 change (1 breaking, 0 warning, 0 info, 1 waived): passed, no breaking change that"
        " old clients would feel"
    )
    # the run reads the same file, its own entries only
    (run_waiver,) = parse_waivers(waivers, read_toml(waivers), {"no_leaks"})
    assert run_waiver.ticket == "RUN-1"


def test_command_an_expired_diff_waiver_fails_naming_it(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = pair(lambda d: None)  # nothing changed: the expired waiver alone fails
    monkeypatch.chdir(tmp_path)  # the default file: ./waivers.toml
    Path("waivers.toml").write_text(
        WAIVER.format(path="DELETE /flags/{id}", expires="2021-01-31"), encoding="utf-8"
    )
    code, out, _ = diff(old, new)
    assert code == 1
    name = "diff waiver #1 (removed-without-deprecation on DELETE /flags/{id}, API-311)"
    assert f"expired: {name} expired 2021-01-31" in out
    assert (
        out.splitlines()[-1]
        == f"0 changes (0 breaking, 0 warning, 0 info): failed, expired: {name}"
    )


def test_command_a_waiver_of_another_path_or_change_waives_nothing(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    old, new = pair(removed_delete)
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVER.format(path="GET /flags/{id}", expires="2999-12-31"), "utf-8")
    assert diff("--waivers", waivers, old, new)[0] == 1


def test_command_a_pointer_waiver_for_a_change_of_the_whole_spec(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    old, new = pair(lambda d: d.update({"servers": [{"url": "/v2"}]}))
    waivers = tmp_path / "w.toml"
    waivers.write_text(
        '[[diff-waiver]]\nchange = "base-path-changed"\npointer = "/servers"\nreason = "v2"\n'
        'ticket = "API-2"\nexpires = 2999-01-01\n',
        encoding="utf-8",
    )
    assert diff(old, new)[0] == 1
    assert diff("--waivers", waivers, old, new)[0] == 0


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('change = "operation-gone"\npath = "/x"', "unknown change 'operation-gone'"),
        ('change = "base-path-changed"', "name one path"),
        ('change = "base-path-changed"\npath = "/x"\npointer = "/y"', "name one path"),
        ('change = "base-path-changed"\npointer = "servers"', "must start with '/'"),
        ('change = "base-path-changed"\npath = "/x"\noperation = "getX"', "unknown key"),
    ],
)
def test_command_a_bad_diff_waiver_is_exit_3(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path, entry: str, says: str
) -> None:
    old, new = pair(lambda d: None)
    waivers = tmp_path / "w.toml"
    waivers.write_text(
        f'[[diff-waiver]]\n{entry}\nreason = "r"\nticket = "T"\nexpires = 2999-01-01\n', "utf-8"
    )
    code, _, err = diff("--waivers", waivers, old, new)
    assert code == 3
    assert f"{waivers}: diff waiver #1: " in err
    assert says in err


def test_command_a_bad_expiry_is_read_as_the_run_reads_it(
    pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    old, new = pair(lambda d: None)
    waivers = tmp_path / "w.toml"
    waivers.write_text(
        '[[diff-waiver]]\nchange = "base-path-changed"\npointer = "/servers"\nreason = "r"\n'
        'ticket = "T"\nexpires = "soon"\n',
        encoding="utf-8",
    )
    code, _, err = diff("--waivers", waivers, old, new)
    assert code == 3
    assert "expires = 'soon': write a date, e.g. expires = 2026-12-31" in err


# --- git revisions and overlays ----------------------------------------------------------


def git(folder: Path, *argv: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *argv],
        cwd=folder, check=True, capture_output=True, timeout=30,
    )  # fmt: skip


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository holding the Flags spec at ``api/flags.json``, committed; the test runs
    in it."""
    git(tmp_path, "init", "-q")
    (tmp_path / "api").mkdir()
    written(tmp_path / "api" / "flags.json", flags())
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "the flags spec")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_command_old_from_a_git_revision(repository: Path) -> None:
    data = flags()
    removed_delete(data)
    written(repository / "api" / "flags.json", data)
    code, out, _ = diff("HEAD:api/flags.json", "api/flags.json")
    assert code == 1
    assert out.splitlines()[0] == "conformance diff HEAD:api/flags.json api/flags.json"
    assert "removed-without-deprecation" in out
    assert diff("HEAD:api/flags.json", "HEAD:api/flags.json")[0] == 0


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ("nope:api/flags.json", "HEAD"),
        ("HEAD:api/gone.json", "git cannot show it: path 'api/gone.json' does not exist in 'HEAD'"),
    ],
)
def test_command_a_revision_git_cannot_show_is_exit_3(
    repository: Path, argument: str, says: str
) -> None:
    code, out, err = diff(argument, "api/flags.json")
    assert (code, out) == (3, "")
    assert err.startswith(f"{argument}: git cannot show it: ")
    assert len(err.strip().splitlines()) == 1
    if says != "HEAD":
        assert says in err


OVERLAY = """overlay: 1.0.0
info: {{title: flags declarations, version: "1"}}
actions:
  - target: $
    update:
      x-rate-limit: {{limit: {limit}, window_s: 60}}
"""


def test_command_applies_the_overlay_a_run_would_at_each_side(repository: Path) -> None:
    (repository / "conformance.toml").write_text(
        '[targets.flags]\nspec = "api/flags.json"\noverlay = "api/overlay.yaml"\n', "utf-8"
    )
    (repository / "api" / "overlay.yaml").write_text(OVERLAY.format(limit=100), "utf-8")
    git(repository, "add", ".")
    git(repository, "commit", "-q", "-m", "declarations")
    (repository / "api" / "overlay.yaml").write_text(OVERLAY.format(limit=30), "utf-8")
    code, out, _ = diff("HEAD:api/flags.json", "api/flags.json")
    assert code == 1
    assert (
        "[breaking] rate-limit-lowered  /x-rate-limit  30 per 60 s by default where it was"
        " 100 per 60 s" in out
    )
    # --overlay adds one to both sides, after the configured one
    extra = repository / "extra.yaml"
    extra.write_text(OVERLAY.format(limit=5), "utf-8")
    assert diff("--overlay", extra, "HEAD:api/flags.json", "api/flags.json")[0] == 0

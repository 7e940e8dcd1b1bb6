"""A plain third-party spec (no ``x-`` declarations) and an OpenAPI Overlay beside it that adds
them: ``conformance run --spec FILE --overlay FILE`` reads the overlaid document everywhere
(the rules that apply, the plugin's options handed to every xdist worker, the fuzzing and the
scenarios), and a scenario that needs a declaration runs on it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from conformance import config
from conformance.cli import run
from conformance.runner import RunOptions, pytest_arguments
from tests.plain_specs import document, json_answer, written
from tests.servers import AnyMethod, serving

ITEMS: dict[str, Any] = document(
    "Items",
    {
        "/items": {
            "get": {
                "operationId": "listItems",
                "responses": {
                    "200": json_answer(
                        {"type": "array", "items": {"type": "string"}, "maxItems": 3}, "the items"
                    )
                },
            }
        }
    },
)

#: what the Items team will not write into its published spec
EXTRAS = """\
overlay: 1.0.0
info: {title: Items contract extras, version: "1"}
actions:
  - target: $
    description: every rule of the contract, and a latency budget for every operation
    update:
      x-contract: strict
      x-latency-budget-ms: 1000
  - target: $.paths['/items'].get
    update:
      x-rate-limit: {limit: 100, window_s: 60}
"""


def files(folder: Path, extras: str = EXTRAS) -> tuple[Path, Path]:
    """The plain spec and its overlay, written."""
    overlay = folder / "items.overlay.yaml"
    overlay.write_text(extras, encoding="utf-8")
    return written(folder, "items", ITEMS), overlay


def command(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run([str(arg) for arg in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def rule_states(out: str) -> dict[str, str]:
    """``--list-rules``'s rule -> its state and reason."""
    rows = [line.split(None, 2) for line in out.splitlines()[1:] if line.startswith("  ")]
    return {row[0]: row[2] for row in rows if len(row) == 3}


def test_overlay_turns_the_rules_it_declares_on_in_list_rules(tmp_path: Path) -> None:
    spec, overlay = files(tmp_path)
    code, plain, _ = command("run", "--list-rules", "--spec", spec)
    assert code == 0
    assert "no x-contract: strict" in plain.splitlines()[0]
    for rule in ("request_id", "nosniff", "rate_limit_headers", "exercised"):
        assert rule_states(plain)[rule].startswith("off for all 1 operation"), rule
    code, overlaid, err = command("run", "--list-rules", "--spec", spec, "--overlay", overlay)
    assert (code, err) == (0, "")
    assert overlaid.splitlines()[0] == (
        f"items: {spec} + overlay {overlay} (1 operation; x-contract: strict, so every contract"
        " rule applies to every operation)"
    )
    for rule in ("request_id", "nosniff", "rate_limit_headers", "exercised"):
        assert rule_states(overlaid)[rule] == (
            "on for all 1 operation: the spec declares x-contract: strict"
        ), rule


def test_overlay_declaration_turns_its_rule_on_and_a_target_that_misses_leaves_it_off(
    tmp_path: Path,
) -> None:
    extras = EXTRAS.replace("      x-contract: strict\n", "")
    spec, overlay = files(tmp_path, extras)
    _, out, _ = command("run", "--list-rules", "--spec", spec, "--overlay", overlay)
    assert rule_states(out)["rate_limit_headers"] == (
        "on for all 1 operation: the operation declares x-rate-limit"
    )
    spec, overlay = files(tmp_path, extras.replace("$.paths['/items'].get", "$.paths['/i'].get"))
    code, out, _ = command("run", "--list-rules", "--spec", spec, "--overlay", overlay)
    assert code == 0
    assert out.splitlines()[1] == (
        f"  overlay problem: {overlay}:8: action 2 ($.paths['/i'].get) matches nothing in"
        " items.json: nothing was changed"
    )
    assert rule_states(out)["rate_limit_headers"].startswith("off")  # not declared after all


def test_overlay_without_spec_is_one_sentence_and_exit_3(tmp_path: Path) -> None:
    _, overlay = files(tmp_path)
    code, _, err = command("run", "--target", "tchat=http://127.0.0.1:9", "--overlay", overlay)
    assert code == 3
    assert err == (
        "--overlay FILE overlays the spec of --spec FILE; for a target of conformance.toml write"
        ' overlay = "FILE" in its [targets.NAME] table\n'
    )


def test_overlay_bad_file_ends_the_run_in_one_sentence(tmp_path: Path) -> None:
    spec, overlay = files(tmp_path, "overlay: 2.0.0\n")
    code, out, err = command("run", "--spec", spec, "--target", "http://127.0.0.1:9",
                             "--overlay", overlay, "--reports", tmp_path / "reports")  # fmt: skip
    assert (code, out) == (3, "")
    assert err == (
        f"{overlay}:1: overlay='2.0.0' is not a supported version; this reads OpenAPI Overlay 1.0"
        " (overlay: 1.0.0)\n"
    )


def test_overlay_is_handed_to_pytest_and_so_to_every_xdist_worker(tmp_path: Path) -> None:
    spec, overlay = files(tmp_path)
    settings = config.load(None, {}, discover=False)
    targets = {"items": config.ResolvedTarget("http://127.0.0.1:9", spec, overlay)}
    arguments = pytest_arguments(targets, RunOptions(pytest_args=["-n", "2"]), settings)
    at = arguments.index("--conformance-overlay")
    assert arguments[at + 1] == f"items={overlay}"


class Items(AnyMethod):
    """The Items app: its list, 405 for any other method on it, 404 elsewhere."""

    def _handle(self) -> None:
        if self.path.partition("?")[0] != "/items":
            return self.send_json(404, {"detail": "Not Found"})
        if self.command not in ("GET", "HEAD"):
            return self.send_json(405, {"detail": "Method Not Allowed"}, Allow="GET, HEAD")
        return self.send_json(200, ["a", "b"])


@pytest.mark.slow
def test_overlay_declares_a_budget_the_latency_scenario_then_judges(tmp_path: Path) -> None:
    # the budget alone: the strict opt-in, or a rate limit, would hold the plain app to the
    # house headers too
    spec, overlay = files(tmp_path, EXTRAS.split("  - target: $.paths")[0].replace(
        "      x-contract: strict\n", ""))  # fmt: skip
    reports = tmp_path / "reports"
    with serving(Items) as url:
        code, _, err = command(
            "run", "--spec", spec, "--overlay", overlay, "--target", url,
            "--profile", "smoke", "--seed", "1", "--reports", reports,
            "-p", "no:cacheprovider", "-n", "1",  # a worker reads the overlay from its options
        )  # fmt: skip
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    (latency,) = [s for s in verdict["scenarios"] if s["name"] == "latency"]
    assert latency["outcome"] == "passed", latency
    (row,) = latency["latency"]
    assert (row["operation"], row["budget_ms"], row["outcome"]) == ("GET /items", 1000, "met")
    assert code == 0, err
    # the reports say what the spec was held to: the spec and its overlay
    (target,) = verdict["targets"]
    assert target["overlays"] == [str(overlay)]
    assert f"+ overlay {overlay} at {url}" in (reports / "summary.md").read_text(encoding="utf-8")

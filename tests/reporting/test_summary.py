"""The one-page summary (``summary.md``, ``summary.html``, the terminal's lines), on runs
written here in the shape of verdict.json and read back as a `Run` (`Run.from_json`): every
section with its numbers, failures worst first and those alike in all but generated values as
one row, untested operations first, the rules applied, latency against the budget, coverage,
waivers, what the terminal shows, a self-contained page, and no secret in either file."""

from __future__ import annotations

import base64
import copy
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conformance.masking import register, registered_forms
from conformance.reporting import (
    summary_html,
    summary_markdown,
    terminal_lines,
    without_values,
    write_summary,
)
from conformance.verdict import Run

TOKEN = "tok-Zq8fW3xK9pLmN2vR7sT4"
PASSWORD = "S3cret-pass!word"
URL = "http://127.0.0.1:8000/api/v1"
#: the summary's sections, in order, in both files
SECTIONS = ["Run", "Counts", "Failures by rule", "Failures", "Latency", "Coverage", "Scenarios",
            "Waivers", "Cleanup"]  # fmt: skip


def document() -> dict[str, Any]:
    """A failed run: one operation breaking a check (its curl carries a bearer token and a
    password), one not exercised, one answering an undocumented status, a failed scenario,
    latency met and exceeded, and waivers of every kind."""
    measured = [
        latency("getSchool", "GET /schools/{id}", 200, 40.0, 180.0, 190.0, "met"),
        latency("listSchools", "GET /schools", 200, 150.0, 450.0, 900.0, "exceeded"),
        {
            "api": "gloria",
            "operation": "DELETE /users/{id}",
            "operation_id": "deleteUser",
            "budget_ms": 200,
            "samples": 0,
            "from_run": 0,
            "measured": 0,
            "outcome": "not_measured",
            "reason": "a read-only run sends no writes",
        },
    ]
    return {
        "schema": "conformance-verdict/1",
        "verdict": "fail",
        "suite_version": "0.1.0",
        "seed": 5,
        "profile": "smoke",
        "targets": [
            {
                "api": "gloria",
                "url": URL,
                "spec": "specs/gloria.openapi.yaml",
                "spec_version": "1.0.0",
                "spec_sha256": "ab" * 32,
            },
        ],
        "errors": [],
        "counts": {
            "operations": 4,
            "passed": 1,
            "failed": 1,
            "waived": 0,
            "not_exercised": 1,
            "error": 0,
            "skipped": 1,
            "throttled": 2,
            "by_rule": {"not_a_server_error": 1, "stale-delete-409": 1},
            "scenarios": {"passed": 1, "failed": 1, "waived": 0, "skipped": 0, "error": 0},
        },
        "waivers": {
            "in_force": [
                waiver(1, "nosniff", "listSchools", "2099-12-31", used=True),
                waiver(2, "request_id", "getSchool", "2026-01-10", expiring=True, used=True),
                waiver(3, "pagination", "listUsers", "2099-06-30"),
            ],
            "expired": [waiver(4, "no_leaks", "getUser", "2020-01-01")],
            "stale": [waiver(3, "pagination", "listUsers", "2099-06-30")],
        },
        "not_exercised": ["PATCH /users/{id}"],
        "operations": [
            operation(
                "createSchool",
                "POST /schools",
                "failed",
                {"201": 3, "500": 1},
                [201],
                failures=[
                    {
                        "check": "not_a_server_error",
                        "title": "Server error",
                        "message": "Server error\n\nThe server answered 500 to a valid school.\n",
                        "phase": "fuzzing",
                        "status": 500,
                        "curl": f"curl -X POST -H 'Authorization: Bearer {TOKEN}' -d "
                        f'\'{{"name": "Grade 5", "note": "{PASSWORD}"}}\' {URL}/schools',
                        "example": {},
                        "steps": [],
                        "waived": "",
                    }
                ],
            ),
            operation(
                "getSchool", "GET /schools/{id}", "passed", {"200": 9, "405": 5, "418": 2}, [200]
            ),
            {
                **operation(
                    "updateUser", "PATCH /users/{id}", "not_exercised", {"400": 5, "422": 2}, []
                ),
                "throttled": 2,
            },
            operation("deleteUser", "DELETE /users/{id}", "skipped", {}, []),
        ],
        "scenarios": [
            {
                "api": "gloria",
                "name": "conflicts",
                "outcome": "failed",
                "reason": "",
                "steps": [],
                "requests": 41,
                "seconds": 1.25,
                "latency": [],
                "failures": [
                    {
                        "rule": "stale-delete-409",
                        "contract": "§5 a stale DELETE is refused",
                        "part": "schools",
                        "step": "a DELETE with a stale If-Match: 409",
                        "message": "answered 204: the stale DELETE went through\nmore detail",
                        "curl": f"curl -X DELETE -H 'If-Match: \"1\"' {URL}/schools/7",
                        "waived": "",
                    }
                ],
            },
            {
                "api": "gloria",
                "name": "latency",
                "outcome": "passed",
                "reason": "",
                "steps": [],
                "failures": [],
                "requests": 300,
                "seconds": 4.0,
                "latency": measured,
            },
        ],
        "latency": measured,
        "cleanup": {
            "gloria": {"removed": 12, "left": {"AuditEntry": 3}, "failed": {}, "restored": []}
        },
    }


def waiver(
    number: int,
    rule: str,
    operation_id: str,
    expires: str,
    *,
    used: bool = False,
    expiring: bool = False,
) -> dict[str, Any]:
    return {
        "name": f"waiver #{number} ({rule} on gloria {operation_id}, GLO-{number})",
        "rule": rule,
        "api": "gloria",
        "operation": operation_id,
        "scenario": None,
        "reason": f"accepted for now, number {number}",
        "ticket": f"GLO-{number}",
        "expires": expires,
        "used": used,
        "expiring": expiring,
    }


def operation(
    operation_id: str,
    label: str,
    outcome: str,
    statuses: dict[str, int],
    seen: list[int],
    failures: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    documented = {"POST": ["201", "400", "401", "4XX"], "GET": ["200", "401", "404"]}
    return {
        "api": "gloria",
        "operation_id": operation_id,
        "label": label,
        "outcome": outcome,
        "statuses": statuses,
        "documented_2xx_seen": seen,
        "failures": failures or [],
        "errors": [],
        "checks": {},
        "throttled": 0,
        "reason": "read-only run: not sent" if outcome == "skipped" else "",
        "documented": documented.get(label.split()[0], ["200", "204", "400", "default"]),
    }


def latency(
    operation_id: str, label: str, budget: int, p50: float, p95: float, p99: float, outcome: str
) -> dict[str, Any]:
    return {
        "api": "gloria",
        "operation": label,
        "operation_id": operation_id,
        "budget_ms": budget,
        "samples": 60,
        "from_run": 20,
        "measured": 40,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": p99 + 10,
        "outcome": outcome,
    }


def section(markdown: str, title: str) -> str:
    """The text of one ``### title`` section."""
    found = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |\Z)", markdown, re.S | re.M)
    assert found, f"no section {title!r}"
    return found.group(1)


def row(text: str, *cells: str) -> str:
    """The markdown table row holding every one of ``cells``."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    found = [line for line in rows if all(cell in line for cell in cells)]
    assert len(found) == 1, (cells, rows)
    return found[0]


def test_summary_markdown_says_the_verdict_and_why_then_every_section_in_order() -> None:
    markdown = summary_markdown(Run.from_json(document()))
    first, why = markdown.splitlines()[0], markdown.splitlines()[2]
    assert first == "## ❌ Conformance: FAIL"
    assert "1 operation broke the contract (gloria POST /schools): not_a_server_error (1)" in why
    assert "1 scenario failed (gloria conflicts)" in why
    assert "1 operation never answered with a documented 2xx (gloria PATCH /users/{id})" in why
    assert "waiver #4 (no_leaks on gloria getUser, GLO-4) expired on 2020-01-01" in why
    assert why.endswith(" (1 waiver matched nothing).")
    titles = re.findall(r"^### (.+)$", markdown, re.M)
    assert titles == SECTIONS
    run = section(markdown, "Run")
    assert f"`gloria` (spec 1.0.0) at {URL}" in run
    assert "seed 5, profile smoke, environment shared, conformance 0.1.0" in run
    counts = section(markdown, "Counts")
    assert row(counts, "operations") == ("| operations | 1 | **1** | 0 | **1** | 0 | 1 | 4 |")
    assert row(counts, "scenarios") == "| scenarios | 1 | **1** | 0 | — | 0 | 0 | 2 |"
    assert (
        "2 answers stayed 429 (rate limited) after every retry and were not judged:"
        " gloria PATCH /users/{id} (2)." in counts
    )
    rules = section(markdown, "Failures by rule")
    assert [line.split(" | ")[0] for line in rules.splitlines() if line.startswith("| `")] == [
        "| `not_a_server_error`", "| `stale-delete-409`", "| `exercised`",
    ]  # fmt: skip
    # the rule's severity and its words, from the catalogue
    assert "| `not_a_server_error` | **blocker** | 1 | gloria POST /schools | §2 never a 5xx |" in (
        rules
    )
    assert "| `stale-delete-409` | **critical** | 1 | gloria scenario conflicts | §5 a DELETE" in (
        rules
    )
    assert "| `exercised` | normal | 1 | gloria PATCH /users/{id} | §2 every operation" in rules
    assert "- gloria: removed 12 resources the run created; left behind" in markdown


def test_summary_failures_name_the_operation_rule_and_reason_with_a_reproduction() -> None:
    markdown = summary_markdown(Run.from_json(document()))
    failures = section(markdown, "Failures")
    scenario = row(failures, "stale-delete-409")
    assert "scenario conflicts: schools / a DELETE with a stale If-Match: 409" in scenario
    assert "answered 204: the stale DELETE went through |" in scenario  # the first line only
    server = row(failures, "not_a_server_error")
    assert "`POST /schools`" in server
    assert "Server error: The server answered 500 to a valid school." in server
    assert "no documented 2xx came back (seen: 5 x 400, 2 x 422)" in row(failures, "`exercised`")
    # each reproduction in a code block, folded away under what it reproduces
    assert "<summary>#1 gloria POST /schools: not_a_server_error</summary>" in failures
    masked = f"[masked: string, {len(TOKEN)} chars]"
    assert f"```sh\ncurl -X POST -H 'Authorization: Bearer {masked}' -d" in failures
    assert f"```sh\ncurl -X DELETE -H 'If-Match: \"1\"' {URL}/schools/7\n```" in failures


def test_summary_lists_at_most_fifty_failures_and_says_where_the_rest_are() -> None:
    many = document()
    (failure,) = many["operations"][0]["failures"]
    many["operations"] += [
        operation(f"getThing{n}", f"GET /things/{n}", "failed", {"500": 1}, [200], [failure])
        for n in range(60)
    ]
    failures = section(summary_markdown(Run.from_json(many)), "Failures")
    assert "| 50 |" in failures
    assert "| 51 |" not in failures
    assert "… and 13 more in verdict.json" in failures  # 61 5xx, 1 scenario, 1 not exercised
    # the 5xx rows fill the table: the scenario's and the not exercised come after them
    assert "stale-delete-409" not in failures.split("… and")[0]


def test_summary_counts_the_same_failure_of_one_place_once() -> None:
    many = document()
    many["operations"][0]["failures"] *= 26  # a missing header fails every case the same way
    failures = section(summary_markdown(Run.from_json(many)), "Failures")
    assert failures.count("| `not_a_server_error` |") == 1
    assert "The server answered 500 to a valid school. | 26 | #1 |" in failures
    assert "28 failures in 3 rows: failures of one rule, place and status that differ" in failures
    # a first line that only introduces a list takes the list's first item along
    listing = document()
    listing["operations"][0]["failures"][0]["message"] = "Missing headers:\n- `X-Frame`\n"
    failures = section(summary_markdown(Run.from_json(listing)), "Failures")
    assert "Missing headers: - \\`X-Frame\\` | 1 | #1 |" in failures


def test_summary_latency_puts_the_exceeded_row_first_with_its_bar_past_the_budget() -> None:
    markdown = summary_markdown(Run.from_json(document()))
    latency = section(markdown, "Latency")
    assert "2 of 3 operations measured, 1 over budget" in latency
    rows = [line for line in latency.splitlines() if line.startswith("| gloria")]
    assert rows[0] == (
        "| gloria | `GET /schools` | 150 | 450 | 900 | 910 | 60 | 200 |"
        " `██████████│██████████…` | **❌ exceeded** |"
    )
    assert rows[1] == (
        "| gloria | `GET /schools/{id}` | 40.0 | 180 | 190 | 200 | 60 | 200 |"
        " `█████████░│` | ✅ met |"
    )
    assert rows[2].endswith("| 0 | 200 | — | not measured |")
    # why each operation was not measured, from its row
    assert "<summary>Not measured: 1 operation, and why</summary>" in latency
    assert "- `gloria DELETE /users/{id}`: a read-only run sends no writes" in latency


def test_summary_coverage_counts_operations_exercised_and_flags_undocumented_statuses() -> None:
    coverage = section(summary_markdown(Run.from_json(document())), "Coverage")
    assert "2 of 4 operations exercised (a documented 2xx came back)." in coverage
    assert "1 skipped (read-only run: not sent)" in coverage
    assert "**2 operations answered with a status the spec does not document:**" in coverage
    flagged = row(coverage, "`GET /schools/{id}`", "**2 x 418**")
    assert "200, 401, 404" in flagged
    # the full table: the not-exercised first; a range (4XX) and default cover what they say
    every = coverage.split("<details>")[1]
    lines = [line for line in every.splitlines() if line.startswith("| gloria")]
    assert lines[0].startswith("| gloria | `PATCH /users/{id}` | **❌ no** |")
    assert "**1 x 500 (undocumented)**" in row(every, "`POST /schools`")  # 4XX is not 5xx
    assert "(undocumented)" not in row(every, "`PATCH /users/{id}`")  # "default" covers 422
    # a 405 answers a method the path does not support (sent on purpose): not the operation's
    assert "5 x 405, **2 x 418 (undocumented)**" in row(every, "`GET /schools/{id}`")
    assert "405 answers are to methods a path does not support" in coverage


def test_summary_scenarios_and_waivers_say_what_needs_doing() -> None:
    markdown = summary_markdown(Run.from_json(document()))
    scenarios = section(markdown, "Scenarios")
    failed = row(scenarios, "`conflicts`")
    assert failed.startswith("| gloria | `conflicts` | **❌ failed** | 41 | 1.2 |")
    assert "schools / a DELETE with a stale If-Match: 409 `stale-delete-409` |" in failed
    assert scenarios.index("`conflicts`") < scenarios.index("`latency`")
    waivers = section(markdown, "Waivers")
    assert "3 in force (2 used, 1 expiring within 14 days), 1 expired" in waivers
    assert "1 stale (matched nothing" in waivers
    assert row(waivers, "GLO-4").startswith("| **❌ expired** | `no_leaks` |")
    assert row(waivers, "GLO-2").startswith("| **⚠️ expiring** | `request_id` |")
    assert row(waivers, "GLO-3").startswith("| in force (stale) | `pagination` |")
    # what to do about each: renew or fix an expired one, remove a stale one
    assert (
        "- **EXPIRED waiver #4 (no_leaks on gloria getUser, GLO-4) on 2020-01-01: renew it or"
        " fix the failure**" in waivers
    )
    assert "- **stale waiver #3 (pagination on gloria listUsers, GLO-3): matched nothing" in waivers


def test_summary_of_a_passing_run_says_so_in_a_sentence() -> None:
    passing = document()
    passing.update(verdict="pass", scenarios=[], latency=[], waivers={})
    passing["operations"] = [passing["operations"][1]]
    markdown = summary_markdown(Run.from_json(passing))
    assert markdown.startswith("## ✅ Conformance: PASS\n\nThe one operation tested conforms.")
    assert "No waivers." in markdown
    assert "No scenario ran." in markdown


def test_summary_of_a_broken_run_says_the_verdict_cannot_be_trusted() -> None:
    broken = document()
    broken.update(verdict="broken", errors=["gloria: the target could not be reached"])
    markdown = summary_markdown(Run.from_json(broken))
    assert markdown.startswith("## ⛔ Conformance: BROKEN\n\nThe verdict cannot be trusted:")
    assert "the run broke: gloria: the target could not be reached" in markdown
    assert "**gloria: the target could not be reached**" in section(markdown, "Run")


class _Page(HTMLParser):
    """What a browser would fetch: every attribute naming a resource, every tag."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.references += [
            value or ""
            for name, value in attrs
            if name in ("src", "href", "srcset", "action", "data", "poster", "xlink:href")
        ]


def test_summary_html_is_one_self_contained_page_with_the_same_content() -> None:
    page = summary_html(Run.from_json(document()))
    root = ET.fromstring(page)  # well-formed: XHTML-compatible, inline SVG included
    parser = _Page()
    parser.feed(page)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parser.tags)
    assert all(reference.startswith("#") for reference in parser.references)
    assert "@import" not in page
    assert "url(" not in page
    assert "default-src 'none'" in page  # the browser refuses any request anyway
    # every http(s) address in the page is text: the target and the curls, escaped
    text = "".join(root.itertext())
    assert len(re.findall("https?://", page)) == len(re.findall("https?://", text))
    assert "<h1>❌ Conformance: FAIL</h1>" in page
    heads = [h.text for h in root.iter("h2")]
    assert heads == SECTIONS
    assert "1 operation broke the contract (gloria POST /schools)" in text
    assert "Server error: The server answered 500 to a valid school." in text
    assert "curl -X DELETE -H 'If-Match: \"1\"'" in text
    assert "&#x27;If-Match: &quot;1&quot;&#x27;" in page  # escaped, not markup
    assert "2 x 418 (undocumented)" in text


def test_summary_html_plot_marks_the_exceeded_bar_against_the_budget_line() -> None:
    root = ET.fromstring(summary_html(Run.from_json(document())))
    svg = next(root.iter("svg"))
    bars = {rect.get("data-operation"): rect.get("class") for rect in svg.iter("rect")}
    assert bars == {"gloria GET /schools": "p95 exceeded", "gloria GET /schools/{id}": "p95 met"}
    budget = [line for line in svg.iter("line") if line.get("class") == "budget"]
    assert len(budget) == 1
    at = float(budget[0].get("x1", "0"))
    widths = {
        rect.get("data-operation"): float(rect.get("x", "0")) + float(rect.get("width", "0"))
        for rect in svg.iter("rect")
    }
    assert widths["gloria GET /schools"] > at > widths["gloria GET /schools/{id}"]
    exceeded = ["".join(tr.itertext()) for tr in root.iter("tr") if tr.get("class") == "exceeded"]
    assert len(exceeded) == 1
    assert "GET /schools" in exceeded[0]
    assert "❌ exceeded" in exceeded[0]


def test_the_terminal_says_what_broke_what_failed_and_what_needs_doing() -> None:
    broken = document()
    broken["operations"][1]["unable"] = [
        "the fuzzing phase could not generate data: Failed Health Check\n\nUnable to generate."
    ]
    broken["operations"].append(
        {
            **operation("getThing", "GET /things", "error", {}, []),
            "errors": ["the engine broke: boom"],
        }
    )
    lines = terminal_lines(Run.from_json(broken))
    assert lines[0].startswith("verdict: BROKEN: The verdict cannot be trusted: 1 operation could")
    assert lines[1:3] == [
        "run:",
        f"  gloria (spec 1.0.0) at {URL}; seed 5, profile smoke, environment shared,"
        " conformance 0.1.0.",
    ]
    assert "  - gloria GET /things: the engine broke: boom" in lines  # could not be tested
    told = "\n".join(lines)
    assert "2 answers stayed 429 (rate limited) after every retry and were not judged" in told
    # not exercised, with what came back instead; a phase that could not generate data
    assert re.search(r"\n  gloria +PATCH /users/\{id\} .* 5 x 400, 2 x 422\n", told)
    assert re.search(
        r"\n  gloria +GET /schools/\{id\} +the fuzzing phase could not .*Check\n", told
    )
    # a row per scenario, with its outcome and why
    scenarios = lines[lines.index("scenarios:") + 1 : lines.index("waivers:")]
    assert [line.split()[:3] for line in scenarios[1:]] == [
        ["gloria", "conflicts", "❌"],
        ["gloria", "latency", "✅"],
    ]
    assert scenarios[1].endswith("a DELETE with a stale If-Match: 409 stale-delete-409")
    # the waivers: in force, used, expiring; an expired one to renew; a stale one
    waivers = lines[lines.index("waivers:") + 1 :]
    assert waivers[0].startswith("  3 in force (2 used, 1 expiring within 14 days), 1 expired")
    assert waivers[1] == (
        "  - EXPIRED waiver #4 (no_leaks on gloria getUser, GLO-4) on 2020-01-01: renew it or"
        " fix the failure"
    )
    assert waivers[2] == (
        "  - stale waiver #3 (pagination on gloria listUsers, GLO-3): matched nothing in this run"
    )
    # what only the files show
    assert "Reproductions" not in told
    assert "curl" not in told
    assert "latency:" not in lines


def test_write_summary_writes_both_files_with_no_form_of_a_registered_secret(
    tmp_path: Path,
) -> None:
    register(TOKEN, PASSWORD)
    leaky = document()
    # a secret in places no shape gives away: a reason, a step, a waiver, a query string, a
    # header, encoded
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    failure = copy.deepcopy(leaky["operations"][0]["failures"][0])
    failure["message"] = f"the body echoed {PASSWORD} back"
    failure["curl"] = f"curl -H 'X-Debug: {encoded}' '{URL}/schools?q={quote(PASSWORD)}'"
    leaky["operations"][0]["failures"].append(failure)
    leaky["scenarios"][0]["failures"][0]["step"] = f"logged in with {PASSWORD}"
    leaky["waivers"]["in_force"][0]["reason"] = f"token {TOKEN} is a test one"
    markdown, page = write_summary(tmp_path / "reports", Run.from_json(leaky))
    assert (markdown.name, page.name) == ("summary.md", "summary.html")
    written = markdown.read_text(encoding="utf-8") + page.read_text(encoding="utf-8")
    # the failure is there, its secret not (what was there, and how long)
    assert f"the body echoed [masked: string, {len(PASSWORD)} chars] back" in written
    forms = registered_forms([TOKEN, PASSWORD])
    assert [form for form in forms if form in written] == []


# -- what the summary leads with ---------------------------------------------------------------


def check_failure(check: str, message: str, status: int, title: str = "") -> dict[str, Any]:
    """A failure of ``check`` as verdict.json records one."""
    return {
        "check": check,
        "title": title or check,
        "message": message,
        "phase": "fuzzing",
        "status": status,
        "curl": f"curl -X GET {URL}/items  # {message.splitlines()[0]}",
        "example": {},
        "steps": [],
        "waived": "",
    }


def run_of(*operations: dict[str, Any], verdict: str = "fail") -> dict[str, Any]:
    """A run of ``operations`` on a third-party API ``shop``, nothing else."""
    for entry in operations:
        entry["api"] = "shop"
    return {
        **document(),
        "verdict": verdict,
        "targets": [{"api": "shop", "url": URL, "spec": "shop.yaml", "spec_version": "2.1"}],
        "counts": {"operations": len(operations), "by_rule": {}},
        "waivers": {},
        "operations": list(operations),
        "scenarios": [],
        "latency": [],
        "cleanup": {},
    }


def failure_rows(markdown: str) -> list[str]:
    """The rule of each row of the Failures table, top to bottom."""
    rows = [line for line in section(markdown, "Failures").splitlines() if line.startswith("| ")]
    return [re.findall(r"`([^`]+)`", line.split(" | ")[4])[0] for line in rows[2:]]


def uuid_of(n: int) -> str:
    return f"{n:08x}-4015-401a-ab80-c8c110e5{n:04x}"


def test_summary_lists_a_5xx_and_a_leak_before_missing_headers_that_outnumber_them() -> None:
    headers = [
        check_failure("request_id", f"X-Request-ID {uuid_of(n)!r} was sent but None came back", 200)
        for n in range(120)
    ] + [check_failure("nosniff", "X-Content-Type-Options is None, not nosniff", 200)] * 90
    leak = check_failure(
        "no_leaks", "the body reveals a stack trace: 'Traceback (most recent call last)'", 404
    )
    server = check_failure("not_a_server_error", "Server error\n\nThe server answered 500.", 500)
    run = run_of(
        operation("listItems", "GET /items", "failed", {"200": 210}, [200], headers),
        operation("getItem", "GET /items/{id}", "failed", {"200": 4, "404": 2}, [200], [leak]),
        operation("createItem", "POST /items", "failed", {"500": 1}, [], [server]),
    )
    markdown = summary_markdown(Run.from_json(run))
    # in verdict.json the header failures come first and outnumber the rest 210 to 2
    assert failure_rows(markdown) == ["not_a_server_error", "no_leaks", "request_id", "nosniff"]
    failures = section(markdown, "Failures")
    assert row(failures, "`request_id`").startswith("| 3 | minor | shop | `GET /items` |")
    assert "| 120 | #3 |" in row(failures, "`request_id`")
    assert row(failures, "`no_leaks`").startswith("| 2 | **critical** | shop | `GET /items/{id}`")
    by_rule = [
        line.split(" | ")[0][3:-1]
        for line in section(markdown, "Failures by rule").splitlines()
        if line.startswith("| `")
    ]
    assert by_rule == ["not_a_server_error", "no_leaks", "request_id", "nosniff"]
    # the terminal's lines come from the same model, in the same order
    lines = terminal_lines(Run.from_json(run))
    assert lines[0].startswith("verdict: FAIL: 3 operations broke the contract")
    table = lines[lines.index("failures:") :]
    rules = [
        re.findall(r"not_a_server_error|no_leaks|request_id|nosniff", line)[0]
        for line in table
        if re.match(r"\s+\d+\s+(blocker|critical|normal|minor)\s", line)
    ]
    assert rules == ["not_a_server_error", "no_leaks", "request_id", "nosniff"]


def test_failures_that_differ_only_in_generated_values_are_one_row_with_their_count() -> None:
    echoed = [
        check_failure(
            "request_id", f"X-Request-ID {uuid_of(n)!r} was sent but {uuid_of(n + 1)!r} came back",
            200,
        )
        for n in range(305)
    ]  # fmt: skip
    other_status = check_failure("request_id", "X-Request-ID 'abc' was sent but 'x' came back", 404)
    other_words = check_failure(
        "request_id", f"the body's requestId {uuid_of(1)!r} is not X-Request-ID 'abc'", 200
    )
    run = run_of(
        operation(
            "listItems", "GET /items", "failed", {"200": 306, "404": 1}, [200],
            [*echoed, other_status, other_words],
        )
    )  # fmt: skip
    failures = section(summary_markdown(Run.from_json(run)), "Failures")
    assert "307 failures in 3 rows: failures of one rule, place and status that differ" in failures
    first = row(failures, "| 305 |")
    assert f"X-Request-ID '{uuid_of(0)}' was sent but '{uuid_of(1)}' came back" in first
    # other words, or another status: a row of their own
    assert re.search(r"\| 1 \| #[23] \|$", row(failures, "body's requestId"))
    assert re.search(r"\| 1 \| #[23] \|$", row(failures, "was sent but 'x' came back"))
    # the first examples' reproductions, each under its reason
    examples = failures.split("<summary>#1 shop GET /items: request_id")[1].split("</details>")[0]
    assert "(the first 3 of 305 cases)</summary>" in examples
    assert [uuid_of(n) in examples for n in range(5)] == [True, True, True, True, False]
    # what "the values" are: quoted text, numbers, UUIDs, hex and other ids
    assert without_values(f"X-Request-ID {uuid_of(7)!r} was sent but 'def' came back") == (
        "X-Request-ID … was sent but … came back"
    )
    assert without_values("GET /items/absent9f3a answered 404 after 12.5 ms") == (
        without_values("GET /items/absent0c41 answered 500 after 3 ms")
    )
    assert without_values("user's draft deadbeefcafebabe0") == "user's draft …"
    assert without_values("hasMore is True") != without_values("hasMore is False")


def test_untested_operations_come_first_with_their_reason_and_the_run_still_passes() -> None:
    passed = operation("listItems", "GET /items", "passed", {"200": 40}, [200])
    untested = {
        **operation("deleteItem", "DELETE /items/{id}", "untested", {"404": 12}, []),
        "reason": "no producer: nothing the run made gave it an id",
    }
    run = run_of(passed, untested, verdict="pass")
    run["counts"] = {"operations": 2, "passed": 1, "untested": 1, "by_rule": {}}
    markdown = summary_markdown(Run.from_json(run))
    assert markdown.startswith(
        "## ✅ Conformance: PASS\n\nThe one operation tested conforms; 1 operation untested,"
        " never answered with a documented 2xx (shop DELETE /items/{id}; --require-exercised"
        " makes that a failure)."
    )
    titles = re.findall(r"^### (.+)$", markdown, re.M)
    assert titles[:2] == ["Untested", "Run"]
    first = section(markdown, "Untested")
    assert "does not fail the gate (--require-exercised makes it fail)" in first
    assert row(first, "`DELETE /items/{id}`") == (
        "| shop | `DELETE /items/{id}` | no producer: nothing the run made gave it an id"
        " | 12 x 404 |"
    )
    # no failure: neither a row of its own nor the rule "exercised"
    assert section(markdown, "Failures").strip() == "None."
    assert "No rule was broken." in section(markdown, "Failures by rule")
    assert row(section(markdown, "Counts"), "operations") == (
        "| operations | 1 | 0 | 0 | **1** | 0 | 0 | 0 | 2 |"
    )
    assert "| `DELETE /items/{id}` | **untested** |" in section(markdown, "Coverage")
    page = ET.fromstring(summary_html(Run.from_json(run)))
    assert [h.text for h in page.iter("h2")][:2] == ["Untested", "Run"]
    lines = terminal_lines(Run.from_json(run))
    assert lines[0].startswith("verdict: PASS: The one operation tested conforms;")
    assert lines[1] == "untested:"
    assert "no producer: nothing the run made gave it an id" in lines[4]
    # a strict spec's operation without a 2xx stays a failure
    strict = run_of(passed, {**untested, "outcome": "not_exercised"})
    assert "Untested" not in re.findall(
        r"^### (.+)$", summary_markdown(Run.from_json(strict)), re.M
    )
    assert failure_rows(summary_markdown(Run.from_json(strict))) == ["exercised"]


def test_summary_says_which_rules_applied_to_each_api_and_why_the_others_were_off() -> None:
    run = run_of(operation("listItems", "GET /items", "passed", {"200": 40}, [200]), verdict="pass")
    run["rules"] = {
        "shop": [
            {"id": "no_leaks", "kind": "check", "severity": "critical",
             "applies": ["GET /items", "GET /items/{id}", "POST /items"], "off": {}},
            {"id": "request_id", "kind": "check", "severity": "minor", "applies": ["GET /items"],
             "off": {"GET /items/{id}": "response 200 has no X-Request-ID",
                     "POST /items": "response 201 has no X-Request-ID"}},
            {"id": "pagination", "kind": "check", "severity": "normal", "applies": [],
             "off": {"GET /items": "response 200's schema lacks the page members"}},
        ]
    }  # fmt: skip
    markdown = summary_markdown(Run.from_json(run))
    rules = section(markdown, "Rules")
    assert "`shop`: 2 rules of 3 applied to at least one operation; 2 were off somewhere:" in rules
    assert (
        "- `request_id` off for 2 operations (GET /items/{id}, POST /items): response 200 has no"
        " X-Request-ID" in rules
    )
    assert "- `pagination` off for 1 operation (GET /items): response 200's schema lacks" in rules
    assert "`no_leaks` off" not in rules
    assert row(rules, "`no_leaks`") == "| `no_leaks` | check | critical | 3 | 0 |"
    assert row(rules, "`request_id`") == "| `request_id` | check | minor | 1 | 2 |"
    assert "Rules" in [h.text for h in ET.fromstring(summary_html(Run.from_json(run))).iter("h2")]
    del run["rules"]
    assert "### Rules" not in summary_markdown(Run.from_json(run))

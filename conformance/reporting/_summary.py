"""The one-page summary of a run: ``reports/summary.md``, ready to paste into a CI job summary
(GitHub's ``$GITHUB_STEP_SUMMARY``), and the same content as ``reports/summary.html``, one
self-contained file (inline CSS, the plot as inline SVG, nothing fetched from anywhere).

Read from the run's verdict alone (a `conformance.verdict.Run`, what ``verdict.json`` holds), so
a merged verdict gets the same summary. It leads with what matters. In order: the verdict and
why (`conformance.verdict.explain`, the one explanation of a verdict); the operations
``untested`` (never answered with a documented 2xx on a spec without ``x-contract: strict``: no
failure, but the reader should know first), with their reasons; the run; the operations it
left out (excluded, never sent), with why; counts; failures by
rule, worst first, in the catalogue's words; the failures, worst first (the rule's severity in
`conformance.catalogue`, then the count), those that differ only in generated values
(`without_values`) one row with a count and the first examples' reproductions; latency per
operation against its budget (a text bar in markdown, a plot as well in HTML); coverage of
operations and of status codes; the rules that applied to each API's operations and those that
were off, and why (when verdict.json says); scenarios; waivers; cleanup.

Both files, and the terminal's lines (`terminal_lines`), are rendered from one model (`Summary`,
a list of sections of blocks), so they cannot say different things. Everything is masked twice:
the run before it is read, the text before it is written.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import catalogue
from conformance.masking import SECRETS, mask
from conformance.verdict import (
    Confirmed,
    LatencyOutcome,
    LatencyRow,
    OperationVerdict,
    Outcome,
    Run,
    Verdict,
    WaiverUse,
    explain,
    named,
    not_reached,
    one_line,
    plural,
)

#: failures listed; verdict.json has them all
SHOWN_FAILURES = 50
#: a failure's reason, at most
REASON_CHARS = 160
#: text bar cells that stand for the budget
BAR_BUDGET = 10
#: text bar cells at most (twice the budget)
BAR_MAX = 20

_ICONS = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.BROKEN: "⛔"}
_OUTCOME = {
    Outcome.PASSED: "✅ passed",
    Outcome.FAILED: "❌ failed",
    Outcome.WAIVED: "waived",
    Outcome.NOT_EXERCISED: "❌ not exercised",
    Outcome.ERROR: "⛔ error",
    Outcome.SKIPPED: "skipped",
    Outcome.UNTESTED: "untested",
}
_LATENCY = {
    LatencyOutcome.MET: "✅ met",
    LatencyOutcome.EXCEEDED: "❌ exceeded",
    LatencyOutcome.NOT_MEASURED: "not measured",
}
_MEASURED = (LatencyOutcome.MET, LatencyOutcome.EXCEEDED)
#: what the result of a latency row re-measured alone adds
_CONFIRMED = {
    Confirmed.CONFIRMED: " (confirmed alone)",
    Confirmed.NOT_CONFIRMED: " (breach not confirmed alone)",
    Confirmed.NOT_POSSIBLE: " (could not be re-measured)",
}
#: a latency row with its API (`Run.latency`)
ApiLatency = tuple[str, LatencyRow]
_ORDER = {
    Outcome.ERROR: 0, Outcome.FAILED: 1, Outcome.NOT_EXERCISED: 2, Outcome.WAIVED: 3,
    Outcome.SKIPPED: 4, Outcome.PASSED: 5,
}  # fmt: skip

# -- blocks: what both renderers draw -----------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """Inline code: an operation, a rule."""

    text: str


@dataclass(frozen=True)
class Flag:
    """Text a reader should notice: ``bad`` (a failure), ``warn`` (an undocumented status, an
    expiring waiver)."""

    text: str
    tone: str = "bad"


@dataclass(frozen=True)
class Bar:
    """p95 against the budget, as a text bar: `BAR_BUDGET` cells are the budget."""

    ratio: float
    exceeded: bool

    def text(self) -> str:
        cells = min(BAR_MAX, max(1, round(self.ratio * BAR_BUDGET)))
        if cells <= BAR_BUDGET:
            return "█" * cells + "░" * (BAR_BUDGET - cells) + "│"
        more = "…" if self.ratio * BAR_BUDGET > BAR_MAX else ""
        return "█" * BAR_BUDGET + "│" + "█" * (cells - BAR_BUDGET) + more


Inline = str | Code | Flag | Bar
Cell = Inline | Sequence[Inline]


@dataclass(frozen=True)
class Para:
    parts: Sequence[Inline]
    #: False for a paragraph about what only the files show (the reproductions)
    terminal: bool = True


@dataclass(frozen=True)
class Bullets:
    items: Sequence[Sequence[Inline]]


@dataclass(frozen=True)
class Table:
    head: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    #: right-aligned columns (numbers)
    numeric: frozenset[int] = frozenset()
    #: a class per row (HTML): ``exceeded``, ``failed`` …
    classes: Sequence[str] = ()


@dataclass(frozen=True)
class Snippet:
    """A reproduction: a code block, folded away under its summary."""

    summary: str
    code: str


@dataclass(frozen=True)
class Details:
    summary: str
    blocks: Sequence[Block]


@dataclass(frozen=True)
class Plot:
    """Latency per operation against its budget (HTML only: the markdown table's bar column
    says the same)."""

    rows: Sequence[ApiLatency]


Block = Para | Bullets | Table | Snippet | Details | Plot


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    blocks: Sequence[Block] = field(default_factory=tuple)


@dataclass(frozen=True)
class Summary:
    verdict: Verdict
    why: str
    sections: Sequence[Section]


# -- reading the run ---------------------------------------------------------------------------


def _sentence(said: str) -> str:
    """A clause as the summary shows it: a capital first, a stop last."""
    return said[:1].upper() + said[1:] + "."


def _reason(message: str, title: str = "") -> str:
    """The first line of a message (after its title, when the message only repeats it)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return one_line(title, REASON_CHARS)
    first = lines[0]
    if title and first.rstrip(".:") == title.rstrip(".:") and len(lines) > 1:
        first = f"{title.rstrip('.:')}: {lines[1]}"
    elif first.endswith(":") and len(lines) > 1:  # "… missing from the response:" and a list
        first = f"{first} {lines[1]}"
    return one_line(first, REASON_CHARS)


def _ms(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _statuses(seen: Mapping[int, int]) -> str:
    return ", ".join(f"{n} x {status}" for status, n in sorted(seen.items()))


#: statuses no operation documents but every one may answer: a 405 is the answer to a method
#: its path does not support, which schemathesis's coverage phase sends on purpose (and its
#: ``unsupported_method`` check judges)
NOT_THE_OPERATIONS = frozenset({405})


def _covered(status: int, documented: Sequence[str]) -> bool:
    """Whether the spec documents a status: exactly, by range (``4XX``) or by ``default``."""
    keys = {key.upper() for key in documented}
    code = str(status)
    return (
        code in keys or f"{code[:1]}XX" in keys or "DEFAULT" in keys or status in NOT_THE_OPERATIONS
    )


def _undocumented(operation: OperationVerdict) -> list[int]:
    if not operation.documented:  # an older verdict.json, or a spec without responses
        return []
    return [s for s in sorted(operation.statuses) if not _covered(s, operation.documented)]


def _masked(run: Run) -> Run:
    """The run with every registered secret masked wherever it stands: what the summary reads
    (its text is masked again as it is written)."""
    return Run.from_json(SECRETS.mask_data(run.as_json()))


# -- the sections ------------------------------------------------------------------------------


def _run(run: Run) -> Section:
    parts: list[Inline] = []
    for target in run.targets:
        version = f" (spec {target.spec_version})" if target.spec_version else ""
        overlays = "".join(f" + overlay {overlay}" for overlay in target.overlays)
        parts += [Code(target.api), f"{version}{overlays} at {target.url}; "]
    seed = f"seeds {', '.join(map(str, run.seeds))}" if run.seeds else f"seed {run.seed}"
    parts.append(
        f"{seed}, profile {run.profile}, environment {run.environment},"
        f" conformance {run.suite_version}."
    )
    if run.merged_from:
        shards = run.shards or []
        parts.append(
            f" Merged from {plural(len(run.merged_from), 'report')}"
            + (f" (shards {', '.join(shards)})" if shards else "")
            + "."
        )
    blocks: list[Block] = [Para(parts)]
    errors = [
        *run.errors,
        *(f"{o.where}: {o.errors[0]}" for o in run.of(Outcome.ERROR) if o.errors),
        *(
            f"{s.api} {s.kind} {s.name}: {s.reason or 'error'}"
            for s in run.scenarios_of(Outcome.ERROR)
        ),
    ]
    if errors:
        blocks.append(Para(["What broke the run (the verdict cannot be trusted):"]))
        blocks.append(Bullets([[Flag(one_line(e, 300))] for e in errors[:SHOWN_FAILURES]]))
    return Section("Run", "run", blocks)


def _counts(run: Run) -> Section:
    counts = run.counts()
    scenarios: Mapping[str, int] = counts["scenarios"]
    probes: Mapping[str, int] = counts["probes"]
    names: tuple[str, ...] = ("passed", "failed", "waived", "not_exercised", "error", "skipped")
    if counts["untested"]:  # a column only when the run has some (no x-contract: strict)
        names = ("passed", "failed", "waived", "untested", *names[3:])
    head = ["", *(n.replace("_", " ") for n in names), "total"]

    def cell(n: int, name: str) -> Cell:
        if n and name == "untested":
            return Flag(str(n), "warn")
        return Flag(str(n)) if n and name in ("failed", "not_exercised", "error") else str(n)

    rows: list[list[Cell]] = [
        ["operations", *(cell(int(counts[n]), n) for n in names), str(counts["operations"])],
        *(
            [
                kind,
                *(
                    "—" if n in ("not_exercised", "untested") else cell(int(found.get(n, 0)), n)
                    for n in names
                ),
                str(sum(found.values())),
            ]
            for kind, found in (("scenarios", scenarios), ("security probes", probes))
            if kind == "scenarios" or sum(found.values()) > 0
        ),
    ]
    blocks: list[Block] = [Table(head, rows, frozenset(range(1, len(head))))]
    return Section("Counts", "counts", [*blocks, *_throttled(run)])


def _throttled(run: Run) -> list[Block]:
    """The answers that stayed 429 after every retry: not judged, so the reader should know."""
    throttled = sorted((o for o in run.operations if o.throttled), key=lambda o: -o.throttled)
    if not throttled:
        return []
    where = named([f"{o.where} ({o.throttled})" for o in throttled])
    total = sum(o.throttled for o in throttled)
    return [
        Para(
            [
                f"{plural(total, 'answer')} stayed 429 (rate limited) after every retry and were"
                f" not judged: {where}."
            ]
        )
    ]


def _severity(rule: str) -> catalogue.Severity:
    return catalogue.severity_of(rule)


def _severity_cell(rule: str) -> Cell:
    """A rule's severity, flagged when it is blocker or critical."""
    level = _severity(rule)
    return Flag(level.value) if level.rank <= catalogue.Severity.CRITICAL.rank else level.value


def _words(rule: str) -> str:
    """The contract's words for a rule, from the catalogue ("—" for a rule it does not list)."""
    found = catalogue.RULES.get(rule)
    return found.words if found is not None else "—"


def _by_rule(run: Run) -> Section:
    where: dict[str, list[str]] = {}
    places = [(o.where, f.check) for o in run.operations for f in o.failures] + [
        (f"{s.api} {s.kind} {s.name}", f.rule) for s in run.scenarios for f in s.failures
    ]
    for place, rule in places:
        found = where.setdefault(rule, [])
        if place not in found:
            found.append(place)
    counted = Counter(run.by_rule())
    missing = [o.where for o in run.of(Outcome.NOT_EXERCISED)]
    if missing:
        counted["exercised"] = len(missing)
        where["exercised"] = missing
    if not counted:
        return Section("Failures by rule", "by-rule", [Para(["No rule was broken."])])
    ordered = sorted(counted.items(), key=lambda item: (_severity(item[0]).rank, -item[1], item[0]))
    rows: list[list[Cell]] = [
        [Code(rule), _severity_cell(rule), str(n), named(sorted(set(where.get(rule, [])))),
         _words(rule)]
        for rule, n in ordered
    ]  # fmt: skip
    return Section(
        "Failures by rule",
        "by-rule",
        [
            Para(["Worst first: by the rule's severity (the catalogue's), then by count."]),
            Table(
                ["rule", "severity", "failures", "where", "the contract says"],
                rows,
                frozenset({2}),
            ),
        ],
    )


#: what a generated value looks like in a message: quoted text, a long hex id, and any word
#: with a digit in it (a number, a UUID, an id such as ``absent9f3a``, a path's id segment)
_VALUES = re.compile(
    r"""(?<![\w'"])'[^'\n]*'(?!\w)"""
    r"""|(?<![\w'"])"[^"\n]*"(?!\w)"""
    r"|\b[0-9A-Fa-f]{16,}\b"
    r"|[\w-]*\d[\w.-]*"
)


def without_values(text: str) -> str:
    """``text`` with its generated values replaced by ``…``: two failures whose messages differ
    only in ids, numbers or quoted values say the same thing (``X-Request-ID 'abc' was sent but
    'def' came back`` and the same with other ids)."""
    return _VALUES.sub("…", text)


#: a group's reproductions shown, the first ones
EXAMPLES = 3


@dataclass(frozen=True)
class _Failure:
    api: str
    where: Sequence[Inline]
    rule: str
    reason: str
    waived: str
    repro: str
    #: 0 a scenario's failure, 1 an operation's check, 2 an operation not exercised: the order
    #: of failures otherwise alike
    kind: int
    #: what makes two failures one row: the rule, the place, the status and the message with
    #: its values removed (`without_values`)
    shape: tuple[str, ...]

    @property
    def where_text(self) -> str:
        """Where it failed, as plain text."""
        return "".join(p.text if isinstance(p, Code) else str(p) for p in self.where)


@dataclass(frozen=True)
class _Row:
    """Failures that differ only in generated values: one row, counted, with the first
    examples' reproductions."""

    first: _Failure
    examples: Sequence[_Failure]
    cases: int

    @property
    def order(self) -> tuple[Any, ...]:
        """Waived ones last; then worst first, then the most cases first."""
        first = self.first
        rank = _severity(first.rule).rank
        return (bool(first.waived), rank, -self.cases, first.kind, first.api, first.where_text)

    @property
    def repro(self) -> str:
        """The first examples' reproductions (one as it is; several each under its reason)."""
        shown = [example for example in self.examples if example.repro]
        if len(shown) <= 1:
            return shown[0].repro if shown else ""
        return "\n\n".join(f"# {example.reason}\n{example.repro}" for example in shown)


def _grouped(found: Sequence[_Failure]) -> list[_Row]:
    """Failures of one shape as one row, worst first (`_Row.order`)."""
    firsts: dict[tuple[str, ...], list[_Failure]] = {}
    for failure in found:
        firsts.setdefault(failure.shape, []).append(failure)
    rows = []
    for alike in firsts.values():
        examples: dict[str, _Failure] = {}
        for failure in alike:
            if len(examples) < EXAMPLES:
                examples.setdefault(failure.repro, failure)
        rows.append(_Row(alike[0], list(examples.values()), len(alike)))
    return sorted(rows, key=lambda row: row.order)


def _scenario_failures(run: Run) -> list[_Failure]:
    found = []
    for scenario in run.scenarios:
        api, name = scenario.api, scenario.name
        for failure in scenario.failures:
            where = f"{failure.part} / {failure.step}".strip(" /")
            step, said = without_values(where), without_values(failure.message)
            shape = ("scenario", api, name, failure.rule, step, said, failure.waived)
            found.append(
                _Failure(
                    api,
                    [f"{scenario.kind} {name}: ", where],
                    failure.rule,
                    _reason(failure.message),
                    failure.waived,
                    failure.curl,
                    0,
                    shape,
                )
            )
    return found


def _operation_failures(operation: OperationVerdict) -> list[_Failure]:
    api, label = operation.api, operation.label
    found = []
    for failure in operation.failures:
        repro = failure.curl
        if failure.steps:
            repro = "\n".join(
                ["# first, the requests before it:", *failure.steps, "# then:", repro]
            )
        said = without_values(f"{failure.title}\n{failure.message}")
        shape = ("check", api, label, failure.check, str(failure.status), said, failure.waived)
        reason = _reason(failure.message, failure.title)
        found.append(
            _Failure(api, [Code(label)], failure.check, reason, failure.waived, repro, 1, shape)
        )
    if operation.outcome == Outcome.NOT_EXERCISED:
        seen = _statuses(operation.statuses) or "no answer"
        reason = f"no documented 2xx came back (seen: {seen})"
        found.append(
            _Failure(api, [Code(label)], "exercised", reason, "", "", 2, ("gate", api, label))
        )
    return found


def _failures_found(run: Run) -> list[_Failure]:
    return [
        *_scenario_failures(run),
        *(failure for operation in run.operations for failure in _operation_failures(operation)),
    ]


def _failures(run: Run) -> Section:
    found = _failures_found(run)
    if not found:
        return Section("Failures", "failures", [Para(["None."])])
    grouped = _grouped(found)
    shown = grouped[:SHOWN_FAILURES]
    rows: list[list[Cell]] = []
    snippets: list[Block] = []
    for number, row in enumerate(shown, 1):
        failure = row.first
        rule: list[Inline] = [Code(failure.rule)]
        if failure.waived:
            rule.append(f" (waived: {failure.waived})")
        repro = row.repro
        rows.append(
            [str(number), _severity_cell(failure.rule), failure.api, failure.where, rule,
             failure.reason, str(row.cases), f"#{number}" if repro else "—"]
        )  # fmt: skip
        if repro:
            told = f"#{number} {failure.api} {failure.where_text}: {failure.rule}"
            if row.cases > 1 and len(row.examples) > 1:
                told += f" (the first {len(row.examples)} of {row.cases} cases)"
            snippets.append(Snippet(told, repro))
    unwaived = sum(1 for f in found if not f.waived)
    said = f"{plural(unwaived, 'failure')}" + (
        f" and {len(found) - unwaived} waived" if unwaived < len(found) else ""
    )
    order = "worst first (the rule's severity, then the count), waived ones last"
    if len(grouped) < len(found):
        said += (
            f" in {plural(len(grouped), 'row')}: failures of one rule, place and status that"
            f" differ only in generated values are one row; {order}."
        )
    else:
        said += f" ({order})."
    blocks: list[Block] = [
        Para([f"{said[0].upper()}{said[1:]}"]),
        Table(
            ["#", "severity", "API", "where", "rule", "why", "cases", "reproduce"],
            rows,
            frozenset({0, 6}),
            ["waived" if row.first.waived else "failed" for row in shown],
        ),
    ]
    if len(grouped) > SHOWN_FAILURES:
        blocks.append(Para([f"… and {len(grouped) - SHOWN_FAILURES} more in verdict.json."]))
    if snippets:
        blocks.append(
            Para(
                [
                    "Reproductions (curl, to paste into a shell: the run's credentials are the"
                    " variables they came from, such as ",
                    Code("$CONFORMANCE_<API>_TOKEN"),
                    "; other secrets masked):",
                ],
                terminal=False,
            )
        )
        blocks += snippets
    return Section("Failures", "failures", blocks)


def _untested(run: Run) -> Section | None:
    """The operations never answered with a documented 2xx on a spec without ``x-contract:
    strict``: nothing they answered was judged as a success, and the reader should know first.
    They do not fail the gate (``--require-exercised`` makes them ``not_exercised``)."""
    untested = sorted(run.of(Outcome.UNTESTED), key=lambda o: (o.api, o.label))
    if not untested:
        return None
    said = (
        f"{plural(len(untested), 'operation')} never answered with a documented 2xx, so"
        " nothing shows that they work. The spec does not declare x-contract: strict, so this"
        " does not fail the gate (--require-exercised makes it fail)."
    )
    rows = _without_2xx(untested, "no documented 2xx came back")
    return Section(
        "Untested",
        "untested",
        [
            Para([Flag(said, "warn")]),
            Table(["API", "operation", "why", "seen"], rows, classes=["untested"] * len(rows)),
        ],
    )


def _without_2xx(operations: Sequence[OperationVerdict], why: str) -> list[list[Cell]]:
    """A row per operation no documented 2xx came back from: why, and what came back."""
    return [
        [o.api, Code(o.label), one_line(o.reason or why, 300), _statuses(o.statuses) or "—"]
        for o in operations
    ]


def _applied_rules(run: Run) -> Section | None:
    """Which rules applied to how many operations of each API, and which were off where, and
    why (verdict.json's ``rules``: the catalogue's answer for the spec); absent without it."""
    rules = run.rules
    if not rules:
        return None
    blocks: list[Block] = []
    for api, uses in sorted(rules.items()):
        applied = [use for use in uses if use.applies]
        off = [use for use in uses if use.off]
        said = (
            f"{plural(len(applied), 'rule')} of {len(uses)} applied to at least one"
            f" operation; {len(off)} {'was' if len(off) == 1 else 'were'} off somewhere"
            + (":" if off else ".")
        )
        blocks.append(Para([Code(str(api)), f": {said}"]))
        if off:
            items: list[Sequence[Inline]] = []
            for use in off:
                where = list(use.off)
                first = one_line(next(iter(use.off.values())), 200)
                items.append(
                    [Code(use.id), f" off for {plural(len(where), 'operation')}"
                     f" ({named(where)}): {first}"]
                )  # fmt: skip
            blocks.append(Bullets(items))
        rows: list[list[Cell]] = [
            [
                Code(use.id),
                str(use.kind),
                str(use.severity),
                str(len(use.applies)),
                str(len(use.off)),
            ]
            for use in uses
        ]
        blocks.append(
            Details(
                f"Each rule of {api}: the operations it applied to, and was off for",
                [
                    Table(
                        ["rule", "kind", "severity", "applied to", "off for"],
                        rows,
                        frozenset({3, 4}),
                    )
                ],
            )
        )
    return Section("Rules", "rules", blocks)


def _latency_rows(run: Run) -> list[ApiLatency]:
    order = {LatencyOutcome.EXCEEDED: 0, LatencyOutcome.MET: 1, LatencyOutcome.NOT_MEASURED: 2}

    def ratio(row: LatencyRow) -> float:
        if row.budget_ms > 0 and row.p95_ms is not None:
            return row.p95_ms / row.budget_ms
        return 0.0

    return sorted(
        run.latency,
        key=lambda found: (order[found[1].outcome], -ratio(found[1]), found[0], found[1].operation),
    )


def _latency(run: Run) -> Section:
    rows = _latency_rows(run)
    if not rows:
        return Section(
            "Latency", "latency", [Para(["Not measured: the latency scenario did not run."])]
        )
    measured = [(api, row) for api, row in rows if row.outcome in _MEASURED]
    exceeded = [row for _, row in measured if row.outcome == LatencyOutcome.EXCEEDED]
    short = len(rows) - len(measured)
    said = (
        f"{len(measured)} of {plural(len(rows), 'operation')} measured,"
        f" {len(exceeded)} over budget (p95 above the operation's budget)."
    )
    if short:
        said += (
            f" {short} had too few successful answers to judge (not measured; why, below the"
            " table)."
        )
    cells: list[list[Cell]] = []
    for api, row in rows:
        over = row.outcome == LatencyOutcome.EXCEEDED
        bar: Cell = "—"
        if row.outcome in _MEASURED and row.budget_ms > 0 and row.p95_ms is not None:
            bar = Bar(row.p95_ms / row.budget_ms, over)
        result = _LATENCY[row.outcome]
        if row.confirmation is not None:  # a breach of the run, re-measured alone after it
            result += _CONFIRMED[row.confirmation.outcome]
        cells.append(
            [
                api,
                Code(row.operation),
                _ms(row.p50_ms),
                _ms(row.p95_ms),
                _ms(row.p99_ms),
                _ms(row.max_ms),
                str(row.samples),
                _ms(row.budget_ms),
                bar,
                Flag(result) if over else result,
            ]
        )
    return Section(
        "Latency",
        "latency",
        [
            Para([said]),
            Plot(measured),
            Para(
                [
                    "Times in ms. The bar is p95 against the budget: ",
                    Bar(1.0, False),
                    " is exactly the budget, cells past the │ are over it.",
                ]
            ),
            Table(
                [
                    "API",
                    "operation",
                    "p50",
                    "p95",
                    "p99",
                    "max",
                    "samples",
                    "budget",
                    "p95 vs budget",
                    "result",
                ],
                cells,
                frozenset({2, 3, 4, 5, 6, 7}),
                [str(row.outcome) for _, row in rows],
            ),
            *_remeasured(rows),
            *_unmeasured(rows),
        ],
    )


def _remeasured(rows: Sequence[ApiLatency]) -> list[Block]:
    """The breaches of the run re-measured alone after it: both measurements, side by side."""
    again = [(api, row, row.confirmation) for api, row in rows if row.confirmation is not None]
    if not again:
        return []
    cells: list[list[Cell]] = []
    for api, row, alone in again:
        if alone.outcome == Confirmed.NOT_POSSIBLE:
            result: Cell = Flag(f"stands: {alone.reason}")
        elif alone.outcome == Confirmed.CONFIRMED:
            result = Flag("confirmed: over budget")
        else:
            result = "not confirmed: within budget"
        cells.append(
            [
                api,
                Code(row.operation),
                _ms(row.budget_ms),
                _ms(row.p95_ms),
                str(row.samples),
                _ms(alone.p95_ms),
                str(alone.samples),
                result,
            ]
        )
    said = (
        f"{plural(len(again), 'operation')} over budget in the run"
        f" {'was' if len(again) == 1 else 'were'} re-measured alone after it (warmed up, one"
        " request at a time, with nothing else of the run going on); only a breach the"
        " re-measurement confirms, or one that could not be re-measured, fails the run."
    )
    head = ["API", "operation", "budget", "p95, run", "samples", "p95, alone", "samples", "result"]
    classes = ["met" if row.outcome == LatencyOutcome.MET else "exceeded" for _, row, _ in again]
    return [Para([said]), Table(head, cells, frozenset({2, 3, 4, 5, 6}), classes)]


def _unmeasured(rows: Sequence[ApiLatency]) -> list[Block]:
    """The operations not measured, each with the reason its row gives."""
    short = [(api, row) for api, row in rows if row.outcome == LatencyOutcome.NOT_MEASURED]
    if not short:
        return []
    items: list[Sequence[Inline]] = [
        [Code(f"{api} {row.operation}"), f": {row.reason or 'too few samples'}"]
        for api, row in short
    ]
    return [Details(f"Not measured: {plural(len(short), 'operation')}, and why", [Bullets(items)])]


def _cut_short(run: Run) -> Section | None:
    if not run.cut_short:
        return None
    unreached = not_reached(run)
    said = (
        f"The run was cut short: {run.cut_short}. What it judged before the stop is in"
        " this report. Not reached: "
        + (named(unreached) if unreached else "none")
        + f" ({plural(len(unreached), 'operation or scenario', 'operations and scenarios')})."
    )
    return Section("Cut short", "cut-short", [Para([said])])


def _not_exercised(run: Run) -> list[Block]:
    """The operations the gate required a documented 2xx of and got none (a failure of rule
    ``exercised``), each with why and what came back instead."""
    missing = sorted(run.of(Outcome.NOT_EXERCISED), key=lambda o: (o.api, o.label))
    if not missing:
        return []
    said = (
        f"{plural(len(missing), 'operation')} never answered with a documented 2xx where the"
        " gate requires one (not exercised: a failure):"
    )
    rows = _without_2xx(missing, "no documented 2xx came back")
    return [
        Para([Flag(said)]),
        Table(["API", "operation", "why", "seen"], rows, classes=["failed"] * len(rows)),
    ]


def _unable(operations: Sequence[OperationVerdict]) -> list[Block]:
    """The phases that could not generate data for an operation (a hypothesis health check, an
    unsatisfiable schema), each with the engine's reason: they sent nothing, and the operation
    was judged on its other phases (no error, as in ``st run``)."""
    affected = sorted((o for o in operations if o.unable), key=lambda o: (o.api, o.label))
    rows: list[list[Cell]] = [
        [o.api, Code(o.label), one_line(line.splitlines()[0], REASON_CHARS)]
        for o in affected
        for line in o.unable
    ]
    if not rows:
        return []
    said = (
        f"{plural(len(rows), 'phase')} could not generate data for"
        f" {plural(len(affected), 'operation')}: those phases sent nothing, and each operation"
        " was judged on what its other phases found."
    )
    return [
        Para([Flag(said, "warn")]),
        Table(["API", "operation", "phase that could not generate data"], rows),
    ]


def _undocumented_seen(operations: Sequence[OperationVerdict]) -> list[Block]:
    """The statuses that came back which the spec does not document, per operation."""
    known = any(o.documented for o in operations)
    blocks: list[Block] = []
    if not known and operations:
        blocks.append(Para(["This verdict.json does not say which statuses the spec documents."]))
    odd = sorted((o for o in operations if _undocumented(o)), key=lambda o: (o.api, o.label))
    if odd:
        said = f"{plural(len(odd), 'operation')} answered with a status the spec does not document:"
        rows: list[list[Cell]] = [
            [
                o.api,
                Code(o.label),
                Flag(", ".join(f"{o.statuses[s]} x {s}" for s in _undocumented(o)), "warn"),
                ", ".join(o.documented),
            ]
            for o in odd
        ]
        blocks.append(Para([Flag(said, "warn")]))
        blocks.append(Table(["API", "operation", "undocumented statuses seen", "documented"], rows))
    elif known:
        blocks.append(Para(["Every status seen is documented in the spec."]))
    if any(405 in o.statuses for o in operations):
        blocks.append(
            Para(
                [
                    "405 answers are to methods a path does not support, sent on purpose:"
                    " not counted as undocumented."
                ]
            )
        )
    return blocks


def _statuses_per_operation(operations: Sequence[OperationVerdict]) -> list[Block]:
    """Every operation's documented statuses and those seen (folded away): the not exercised
    first, then those with an undocumented status."""

    def order(o: OperationVerdict) -> tuple[Any, ...]:
        first = 0 if not o.documented_2xx_seen else 1 if _undocumented(o) else 2
        return (o.outcome == Outcome.SKIPPED, first, o.api, o.label)

    rows: list[list[Cell]] = []
    for operation in sorted(operations, key=order):
        odd = set(_undocumented(operation))
        seen: list[Inline] = []
        for status, n in sorted(operation.statuses.items()):
            if seen:
                seen.append(", ")
            told = f"{n} x {status}"
            seen.append(Flag(f"{told} (undocumented)", "warn") if status in odd else told)
        rows.append(
            [
                operation.api,
                Code(operation.label),
                _exercised_mark(operation),
                ", ".join(operation.documented) or "?",
                seen or "—",
            ]
        )
    if not rows:
        return []
    return [
        Details(
            f"Statuses per operation ({len(rows)}): documented and seen",
            [Table(["API", "operation", "exercised", "documented", "seen"], rows)],
        )
    ]


def _exercised_mark(operation: OperationVerdict) -> Cell:
    if operation.outcome == Outcome.SKIPPED:
        return "not sent"
    if operation.documented_2xx_seen:
        return "✅ yes"
    if operation.outcome == Outcome.UNTESTED:
        return Flag("untested", "warn")
    return Flag("❌ no")


def _coverage(run: Run) -> Section:
    operations = run.operations
    exercised = [o for o in operations if o.documented_2xx_seen]
    skipped = run.of(Outcome.SKIPPED)
    said = (
        f"{len(exercised)} of {plural(len(operations), 'operation')} exercised"
        " (a documented 2xx came back)."
    )
    if skipped:
        said += f" {len(skipped)} skipped ({skipped[0].reason or 'not sent'})."
    blocks: list[Block] = [
        Para([said]),
        *_not_exercised(run),
        *_unable(operations),
        *_undocumented_seen(operations),
        *_statuses_per_operation(operations),
    ]
    return Section("Coverage", "coverage", blocks)


def _scenarios(run: Run, kind: str = "scenario") -> Section:
    """The scenarios' table (or, with ``kind="probe"``, the security probes')."""
    title, anchor, noun = (
        ("Security probes", "probes", "probe") if kind == "probe" else
        ("Scenarios", "scenarios", "scenario")
    )  # fmt: skip
    chosen = [s for s in run.scenarios if s.kind == kind]
    if not chosen:
        return Section(title, anchor, [Para([f"No {noun} ran."])])
    rows: list[list[Cell]] = []
    ordered = sorted(chosen, key=lambda s: (_ORDER.get(s.outcome, 9), s.api, s.name))
    for scenario in ordered:
        broken: list[Inline] = []
        for failure in scenario.failures:
            step = f"{failure.part} / {failure.step}".strip(" /")
            broken += ["; " if broken else "", f"{one_line(step, 160)} ", Code(failure.rule)]
            broken += [" (waived)"] if failure.waived else []
        if scenario.reason:
            broken += ["; " if broken else "", one_line(scenario.reason, 300)]
        outcome = _OUTCOME.get(scenario.outcome, str(scenario.outcome))
        failed = scenario.outcome in (Outcome.FAILED, Outcome.ERROR)
        rows.append(
            [
                scenario.api,
                Code(scenario.name),
                Flag(outcome) if failed else outcome,
                str(scenario.requests),
                f"{scenario.seconds:.1f}",
                [part for part in broken if part] or "—",
            ]
        )
    return Section(
        title,
        anchor,
        [
            Table(
                ["API", noun, "result", "requests", "seconds", "failed steps"],
                rows,
                frozenset({3, 4}),
                [str(s.outcome) for s in ordered],
            )
        ],
    )


def _security(run: Run) -> Section | None:
    """Every finding of a rule that judges a security flaw (the probes', and the checks' and
    scenarios' the catalogue gives an OWASP category), by OWASP API Security Top 10 category,
    warnings with them; then the probes' table. None when no probe ran and nothing was found."""
    rows: list[tuple[int, int, list[Cell]]] = []
    for scenario in run.scenarios:
        for found, warning in [(f, False) for f in scenario.failures] + [
            (f, True) for f in scenario.warnings
        ]:
            if not found.owasp:
                continue
            where = f"{scenario.kind} {scenario.name}: {found.part} / {found.step}".strip(" /")
            rows.append(_security_row(found.owasp, found.rule, scenario.api, where,
                                      found.message, warning, found.waived))  # fmt: skip
    for operation in run.operations:
        seen: set[str] = set()
        for failure in operation.failures:
            if failure.owasp and failure.check not in seen:
                seen.add(failure.check)
                rows.append(_security_row(failure.owasp, failure.check, operation.api,
                                          operation.label, failure.title, False,
                                          failure.waived))  # fmt: skip
    probes = [s for s in run.scenarios if s.kind == "probe"]
    if not rows and not probes:
        return None
    blocks: list[Block] = [
        Para(
            [
                "By OWASP API Security Top 10 (2023) category: the security probes' findings and"
                " those of the checks and scenarios that judge a security flaw too. A warning"
                " is reported and never fails the gate."
            ]
        )
    ]
    if rows:
        rows.sort(key=lambda row: row[:2])  # by OWASP category, worst first within it
        blocks.append(
            Table(
                ["OWASP category", "severity", "rule", "API", "where", "what was seen", "gate"],
                [cells for _, _, cells in rows],
            )
        )
    else:
        ran = [s for s in probes if s.outcome != Outcome.SKIPPED]
        skipped = f" ({len(probes) - len(ran)} skipped)" if len(ran) < len(probes) else ""
        blocks.append(Para([f"No finding: {plural(len(ran), 'probe')} ran{skipped}."]))
    blocks += _scenarios(run, "probe").blocks
    return Section("Security (OWASP API Top 10)", "security", blocks)


#: an OWASP category's place in the Top 10, for the security section's order
_OWASP_ORDER = {name: place for place, name in enumerate(catalogue.OWASP.values())}


def _security_row(
    owasp: str, rule: str, api: str, where: str, said: str, warning: bool, waived: str
) -> tuple[int, int, list[Cell]]:
    """(the category's place, the rule's severity rank, the cells) of one finding."""
    gate: Cell = "waived" if waived else "warning" if warning else Flag("fails")
    return (
        _OWASP_ORDER.get(owasp, len(_OWASP_ORDER)),
        _severity(rule).rank,
        [owasp, _severity_cell(rule), Code(rule), api, one_line(where, 120),
         one_line(said, REASON_CHARS), gate],
    )  # fmt: skip


def _waiver_row(waiver: WaiverUse, state: Cell) -> list[Cell]:
    where = waiver.operation or f"scenario {waiver.scenario}"
    if waiver.api:
        where = f"{waiver.api} {where}"
    return [
        state,
        Code(waiver.rule),
        where,
        waiver.ticket,
        waiver.expires,
        "yes" if waiver.used else "no",
        one_line(waiver.reason, 200),
    ]


def _waivers(run: Run) -> Section:
    waivers = run.waivers
    in_force, expired = waivers.in_force, waivers.expired
    stale = {w.name for w in waivers.stale}
    if not in_force and not expired:
        return Section("Waivers", "waivers", [Para(["No waivers."])])
    expiring = [w for w in in_force if w.expiring]
    used = sum(1 for w in in_force if w.used)
    said = f"{len(in_force)} in force ({used} used, {len(expiring)} expiring within 14 days)"
    said += f", {len(expired)} expired" + (" (an expired waiver fails the gate)" if expired else "")
    said += f", {len(stale)} stale" + (" (matched nothing: remove them?)" if stale else "") + "."
    to_do: list[Sequence[Inline]] = [
        [Flag(f"EXPIRED {w.name} on {w.expires}: renew it or fix the failure")] for w in expired
    ]
    to_do += [[Flag(f"stale {w.name}: matched nothing in this run", "warn")] for w in waivers.stale]
    rows: list[list[Cell]] = []
    classes = []
    for waiver in expired:
        rows.append(_waiver_row(waiver, Flag("❌ expired")))
        classes.append("expired")
    for waiver in sorted(in_force, key=lambda w: (not w.expiring, w.expires)):
        if waiver.expiring:
            state: Cell = Flag("⚠️ expiring", "warn")
            classes.append("expiring")
        else:
            state = "in force"
            classes.append("in-force")
        if waiver.name in stale:
            state = [state, " (stale)"] if isinstance(state, Flag) else "in force (stale)"
        rows.append(_waiver_row(waiver, state))
    head = ["state", "rule", "where", "ticket", "expires", "used", "reason"]
    return Section(
        "Waivers",
        "waivers",
        [Para([said]), *([Bullets(to_do)] if to_do else []), Table(head, rows, classes=classes)],
    )


def _cleanup(run: Run) -> Section | None:
    if not run.cleanup:
        return None
    items: list[list[Inline]] = []
    for api, report in sorted(run.cleanup.items()):
        line = f"{api}: removed {plural(report.removed, 'resource')} the run created"
        if report.restored:
            line += f"; restored {', '.join(report.restored)}"
        parts: list[Inline] = [line]
        if report.left:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.left.items()))
            parts.append(f"; left behind (the API cannot delete them): {kinds}")
        if report.unidentified:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.unidentified.items()))
            parts.append(Flag(f"; left behind (no id or key in their creates' answers): {kinds}"))
        if report.failed:
            parts.append(Flag(f"; could not remove {len(report.failed)}"))
        items.append([*parts, "."])
    return Section("Cleanup", "cleanup", [Bullets(items)])


def _excluded(run: Run) -> Section | None:
    """The operations the run left out and never sent, each with why (a dangerous one on a
    shared target: how to test it after all)."""
    if not run.excluded:
        return None
    items: list[list[Inline]] = []
    for left in run.excluded:
        item: list[Inline] = [Code(left.api), " ", Code(left.operation), f": {left.reason}"]
        if left.by == "danger":
            item.append(f' (include = ["{left.operation}"], or environment = "disposable")')
        items.append([*item, "."])
    said = f"{plural(len(run.excluded), 'operation')} left out, never sent:"
    return Section("Excluded", "excluded", [Para([said]), Bullets(items)])


def _summary(run: Run) -> Summary:
    run = _masked(run)
    cut, untested, rules, cleanup, excluded, security = (
        _cut_short(run),
        _untested(run),
        _applied_rules(run),
        _cleanup(run),
        _excluded(run),
        _security(run),
    )
    sections = [
        *([untested] if untested is not None else []),
        _run(run),
        *([excluded] if excluded is not None else []),
        *([cut] if cut is not None else []),
        _counts(run),
        _by_rule(run),
        _failures(run),
        _latency(run),
        _coverage(run),
        *([rules] if rules is not None else []),
        _scenarios(run),
        *([security] if security is not None else []),
        _waivers(run),
        *([cleanup] if cleanup is not None else []),
    ]
    return Summary(run.verdict, _sentence(explain(run)), sections)


# -- markdown ----------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    """Text as markdown shows it literally: one line, with what would become markup escaped
    (and no more, so that the file stays readable as it is)."""
    text = re.sub(r"\s+", " ", mask(text))
    text = re.sub(r"([\\`*|<~])", r"\\\1", text)
    text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)  # not inside a word
    text = re.sub(r"\](?=[(\[:])", r"\\]", text)  # no link
    text = re.sub(r"&(?=#?\w+;)", r"\\&", text)  # no entity
    text = re.sub(r"^(>|[#+-](?= |$))", r"\\\1", text)  # no quote, heading or list
    return re.sub(r"^(\d+)([.)])(?= |$)", r"\1\\\2", text)


def _md_inline(part: Inline, table: bool) -> str:
    if isinstance(part, Code):
        text = " ".join(mask(part.text).split())
        ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        code = f"{ticks}{pad}{text}{pad}{ticks}"
        return code.replace("|", "\\|") if table else code
    if isinstance(part, Flag):
        return f"**{_md_text(part.text)}**"
    if isinstance(part, Bar):
        return f"`{part.text()}`"
    return _md_text(part)


def _md_cell(cell: Cell) -> str:
    parts = [cell] if isinstance(cell, (str, Code, Flag, Bar)) else list(cell)
    return "".join(_md_inline(part, table=True) for part in parts)


def _fence(code: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Para):
        return ["".join(_md_inline(part, table=False) for part in block.parts), ""]
    if isinstance(block, Bullets):
        lines = ["- " + "".join(_md_inline(p, table=False) for p in item) for item in block.items]
        return [*lines, ""]
    if isinstance(block, Table):
        align = ["---:" if i in block.numeric else "---" for i in range(len(block.head))]
        lines = [
            "| " + " | ".join(_md_text(h) for h in block.head) + " |",
            "| " + " | ".join(align) + " |",
        ]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        return [*lines, ""]
    if isinstance(block, Snippet):
        code = mask(block.code)
        fence = _fence(code)
        return [
            f"<details><summary>{html.escape(mask(block.summary))}</summary>",
            "",
            f"{fence}sh",
            code,
            fence,
            "",
            "</details>",
            "",
        ]
    if isinstance(block, Details):
        lines = [f"<details><summary>{html.escape(mask(block.summary))}</summary>", ""]
        for inner in block.blocks:
            lines += _md_block(inner)
        return [*lines, "</details>", ""]
    return []  # a Plot: the table's bar column says it in markdown


def summary_markdown(run: Run, summary: Summary | None = None) -> str:
    """The summary as GitHub-flavoured markdown (a job summary renders it as it is);
    ``summary``: the run's, built already."""
    summary = summary or _summary(run)
    icon = _ICONS.get(summary.verdict, "")
    lines = [f"## {icon} Conformance: {summary.verdict.upper()}".replace("#  ", "# "), ""]
    lines += [_md_text(summary.why), ""]
    for section in summary.sections:
        lines += [f"### {section.title}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return mask("\n".join(lines).rstrip() + "\n")


# -- the terminal ------------------------------------------------------------------------------

#: the sections the terminal shows, from the same model as the files (which have them all): all
#: but latency (the scenarios' table says whether it met its budgets), the rules and cleanup
TERMINAL = (
    "untested", "run", "excluded", "cut-short", "counts", "by-rule", "failures", "coverage",
    "scenarios", "security", "waivers",
)  # fmt: skip
#: sections the terminal leaves out when they have only their one line of nothing to say ("No
#: waivers."): the files keep them
QUIET = ("by-rule", "failures", "scenarios", "waivers")
#: a table's rows the terminal shows
TERMINAL_ROWS = 20
#: a table cell's characters in the terminal, at most
TERMINAL_CELL = 70


def _plain(part: Inline) -> str:
    if isinstance(part, (Code, Flag)):
        return part.text
    if isinstance(part, Bar):
        return part.text()
    return part


def _plain_cell(cell: Cell) -> str:
    parts = [cell] if isinstance(cell, (str, Code, Flag, Bar)) else list(cell)
    return one_line("".join(_plain(part) for part in parts), TERMINAL_CELL)


def _text_block(block: Block) -> list[str]:
    """A block as terminal lines: paragraphs, bullets and tables (aligned, the first
    `TERMINAL_ROWS` rows); reproductions, folded details and the plot stay in the files."""
    if isinstance(block, Para):
        return [" ".join("".join(_plain(p) for p in block.parts).split())] if block.terminal else []
    if isinstance(block, Bullets):
        return ["- " + " ".join("".join(_plain(p) for p in item).split()) for item in block.items]
    if not isinstance(block, Table):
        return []
    rows = [list(block.head), *([_plain_cell(c) for c in row] for row in block.rows)]
    shown = rows[: TERMINAL_ROWS + 1]
    widths = [max(len(row[i]) for row in shown) for i in range(len(block.head))]
    lines = [
        "  ".join(
            cell.rjust(width) if i in block.numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in shown
    ]
    if len(rows) > len(shown):
        lines.append(f"… and {len(rows) - len(shown)} more (summary.md has them all)")
    return lines


def terminal_lines(run: Run) -> list[str]:
    """The terminal summary of a run: the verdict and why, then the `TERMINAL` sections (the
    untested operations first; what broke the run; the counts and throttling; failures by rule
    and the failures, worst first; the operations not exercised, the phases that could not
    generate data; the scenarios; the security findings by OWASP category, warnings with them,
    and the probes; the waivers, expired and stale ones with what to do), drawn
    from the same model as ``summary.md`` and ``summary.html`` so that the three cannot
    disagree. Reproductions, folded details and the plot stay in the files."""
    summary = _summary(run)
    lines = [f"verdict: {summary.verdict.upper()}: {summary.why}"]
    for section in summary.sections:
        said = [line for block in section.blocks for line in _text_block(block)]
        if section.anchor not in TERMINAL or (len(said) <= 1 and section.anchor in QUIET):
            continue
        lines.append(f"{section.title.lower()}:")
        lines += [f"  {line}" for line in said]
    return [mask(line) for line in lines]


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --bad: #b71c1c; --warn: #8a5a00; --good: #1b5e20; --line: #d0d7de; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1f2328; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
.verdict { padding: 16px 20px; border-radius: 8px; border-left: 8px solid; }
.verdict-pass { background: #e8f5e9; border-color: var(--good); }
.verdict-fail { background: #ffebee; border-color: var(--bad); }
.verdict-broken { background: #fff3e0; border-color: #e65100; }
.why { margin: 0; font-size: 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td, tr.exceeded td, tr.error td, tr.expired td { background: #fff5f5; }
tr.expiring td, tr.untested td { background: #fffbeb; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
pre { background: #f6f8fa; padding: 12px; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; white-space: pre; }
.bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.bar { white-space: pre; letter-spacing: -1px; }
.bar.exceeded { color: var(--bad); }
details { margin: 6px 0; }
summary { cursor: pointer; }
svg.plot { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
svg .p95.met { fill: #43a047; }
svg .p95.exceeded { fill: #d32f2f; }
svg .p50 { stroke: #1f2328; stroke-width: 2; }
svg .p99 { fill: #1f2328; }
svg .budget { stroke: #1f2328; stroke-dasharray: 4 3; }
svg .grid { stroke: #eaeef2; }
svg .label { fill: #1f2328; }
svg .note { fill: #57606a; }
svg .note.exceeded { fill: var(--bad); font-weight: 600; }
"""


def _h(text: str) -> str:
    return html.escape(mask(text), quote=True)


def _html_inline(part: Inline) -> str:
    if isinstance(part, Code):
        return f"<code>{_h(part.text)}</code>"
    if isinstance(part, Flag):
        return f'<strong class="{_h(part.tone)}">{_h(part.text)}</strong>'
    if isinstance(part, Bar):
        state = "exceeded" if part.exceeded else "met"
        return f'<span class="bar {state}">{_h(part.text())}</span>'
    return _h(part)


def _html_cell(cell: Cell) -> str:
    parts = [cell] if isinstance(cell, (str, Code, Flag, Bar)) else list(cell)
    return "".join(_html_inline(part) for part in parts)


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return "<p>" + "".join(_html_inline(part) for part in block.parts) + "</p>"
    if isinstance(block, Bullets):
        items = "".join(
            "<li>" + "".join(_html_inline(p) for p in item) + "</li>" for item in block.items
        )
        return f"<ul>{items}</ul>"
    if isinstance(block, Table):
        head = "".join(f'<th scope="col">{_h(h)}</th>' for h in block.head)
        rows = []
        for index, row in enumerate(block.rows):
            cls = block.classes[index] if index < len(block.classes) else ""
            cells = "".join(
                f'<td class="num">{_html_cell(c)}</td>' if i in block.numeric else
                f"<td>{_html_cell(c)}</td>"
                for i, c in enumerate(row)
            )  # fmt: skip
            attr = f' class="{_h(cls)}"' if cls else ""
            rows.append(f"<tr{attr}>{cells}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if isinstance(block, Snippet):
        return (
            f"<details><summary>{_h(block.summary)}</summary>"
            f"<pre><code>{_h(block.code)}</code></pre></details>"
        )
    if isinstance(block, Details):
        inner = "".join(_html_block(b) for b in block.blocks)
        return f"<details><summary>{_h(block.summary)}</summary>{inner}</details>"
    return _svg(block.rows)


def _svg(rows: Sequence[ApiLatency]) -> str:
    """Horizontal bars of p95 per measured operation as a share of its budget (the dashed
    line), p50 as a tick and p99 as a dot; over budget in red."""
    drawn = [
        (api, row, row.p95_ms) for api, row in rows if row.budget_ms > 0 and row.p95_ms is not None
    ]
    if not drawn:
        return ""
    labels = [f"{api} {row.operation}" for api, row, _ in drawn]
    label_w = min(420, max(120, 7 * max(len(label) for label in labels) + 16))
    plot_w, note_w, row_h, top = 480, 200, 20, 46
    ratios = [(row.p99_ms or p95_ms) / row.budget_ms for _, row, p95_ms in drawn]
    axis = max(1.25, min(4.0, math.ceil(max(ratios) * 4) / 4 + 0.25))
    width = label_w + plot_w + note_w
    height = top + row_h * len(drawn) + 10

    def x(ratio: float) -> float:
        return label_w + plot_w * min(ratio, axis) / axis

    out = [
        f'<svg class="plot" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" aria-labelledby="plot-title">',
        '<title id="plot-title">p95 latency per operation against its budget</title>',
        f'<text class="note" x="{label_w}" y="12">bar: p95 · tick: p50 · dot: p99 · dashed'
        " line: the operation's budget (scale: share of each operation's budget)</text>",
    ]
    step = 0.25 if axis <= 2 else 0.5
    tick = 0.0
    while tick <= axis + 1e-9:
        xt = x(tick)
        name = "budget" if tick == 1.0 else f"{tick:g}x"
        out.append(
            f'<line class="grid" x1="{xt:.1f}" y1="{top - 6}" x2="{xt:.1f}"'
            f' y2="{height - 8}" />'
            f'<text class="note" x="{xt:.1f}" y="{top - 10}" text-anchor="middle">{name}</text>'
        )
        tick += step
    for index, ((_, row, p95_ms), label) in enumerate(zip(drawn, labels, strict=True)):
        y = top + index * row_h
        budget = float(row.budget_ms)
        state = "exceeded" if row.outcome == LatencyOutcome.EXCEEDED else "met"
        p95 = p95_ms / budget
        end = x(p95)
        tip = (
            f"{label}: p95 {_ms(p95_ms)} ms, budget {_ms(row.budget_ms)} ms"
            f" ({state}; p50 {_ms(row.p50_ms)}, p99 {_ms(row.p99_ms)},"
            f" max {_ms(row.max_ms)} ms; {row.samples} samples)"
        )
        out.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 14}"'
            f' text-anchor="end">{_h(label)}</text>'
        )
        out.append(
            f'<rect class="p95 {state}" data-operation="{_h(label)}" x="{label_w}"'
            f' y="{y + 4}" width="{max(1.0, end - label_w):.1f}" height="12">'
            f"<title>{_h(tip)}</title></rect>"
        )
        if row.p50_ms is not None:
            xp = x(row.p50_ms / budget)
            out.append(
                f'<line class="p50" x1="{xp:.1f}" y1="{y + 2}" x2="{xp:.1f}" y2="{y + 18}" />'
            )
        if row.p99_ms is not None:
            xp = x(row.p99_ms / budget)
            out.append(f'<circle class="p99" cx="{xp:.1f}" cy="{y + 10}" r="3" />')
        over = " »" if p95 > axis else ""
        note = f"p95 {_ms(p95_ms)} of {_ms(row.budget_ms)} ms{over}"
        out.append(
            f'<text class="note {state}" x="{label_w + plot_w + 8}" y="{y + 14}">{_h(note)}</text>'
        )
    xb = x(1.0)
    out.append(
        f'<line class="budget" x1="{xb:.1f}" y1="{top - 6}" x2="{xb:.1f}" y2="{height - 8}" />'
    )
    out.append("</svg>")
    return "".join(out)


def summary_html(run: Run, summary: Summary | None = None) -> str:
    """The summary as one HTML file that needs nothing else: no script, no font, no request;
    ``summary``: the run's, built already."""
    summary = summary or _summary(run)
    verdict = summary.verdict.upper()
    icon = _ICONS.get(summary.verdict, "")
    body = [
        f'<header class="verdict verdict-{_h(summary.verdict)}">',
        f"<h1>{icon} Conformance: {_h(verdict)}</h1>",
        f'<p class="why">{_h(summary.why)}</p>',
        "</header>",
        "<nav><p>"
        + " · ".join(f'<a href="#{s.anchor}">{_h(s.title)}</a>' for s in summary.sections)
        + "</p></nav>",
    ]
    for section in summary.sections:
        body.append(f'<section id="{section.anchor}"><h2>{_h(section.title)}</h2>')
        body += [_html_block(block) for block in section.blocks]
        body.append("</section>")
    page = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8" />',
        '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        '<meta http-equiv="Content-Security-Policy"'
        " content=\"default-src 'none'; style-src 'unsafe-inline'\" />",
        f"<title>Conformance: {_h(verdict)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body><main>",
        *body,
        "</main></body>",
        "</html>",
    ]
    return mask("\n".join(page) + "\n")


def write_summary(reports: Path, run: Run) -> tuple[Path, Path]:
    """``summary.md`` and ``summary.html`` in ``reports``, masked: the last gate before the
    disk."""
    reports.mkdir(parents=True, exist_ok=True)
    markdown, page = reports / "summary.md", reports / "summary.html"
    summary = _summary(run)  # built once: masking the run for it is half a report's time
    markdown.write_text(mask(summary_markdown(run, summary)), encoding="utf-8")
    page.write_text(mask(summary_html(run, summary)), encoding="utf-8")
    return markdown, page

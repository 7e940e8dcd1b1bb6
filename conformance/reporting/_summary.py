"""The one-page summary of a run: ``reports/summary.md``, ready to paste into a CI job summary
(GitHub's ``$GITHUB_STEP_SUMMARY``), and the same content as ``reports/summary.html``, one
self-contained file (inline CSS, the plot as inline SVG, nothing fetched from anywhere).

Read from the verdict document alone (``verdict.json``, described in
`conformance.suite._verdict`), so a merged verdict gets the same summary. It leads with what
matters. In order: the verdict and why; the operations ``untested`` (never answered with a
documented 2xx on a spec without ``x-contract: strict``: no failure, but the reader should know
first), with their reasons; the run; counts; failures by rule, worst first, in the catalogue's
words; the failures, worst first (the rule's severity in `conformance.catalogue`, then the
count), those that differ only in generated values (`without_values`) one row with a count and
the first examples' reproductions; latency per operation against its budget (a text bar in
markdown, a plot as well in HTML); coverage of operations and of status codes; the rules that
applied to each API's operations and those that were off, and why (when verdict.json says);
scenarios; waivers; cleanup.

Both files, and the terminal's lines (`terminal_lines`), are rendered from one model (`Summary`,
a list of sections of blocks), so they cannot say different things. Everything is masked twice:
the document before it is read, the text before it is written.
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

#: failures listed; verdict.json has them all
SHOWN_FAILURES = 50
#: a failure's reason, at most
REASON_CHARS = 160
#: names listed in a sentence before "and N more"
NAMED = 3
#: text bar cells that stand for the budget
BAR_BUDGET = 10
#: text bar cells at most (twice the budget)
BAR_MAX = 20

_ICONS = {"pass": "✅", "fail": "❌", "broken": "⛔"}
_OUTCOME = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "waived": "waived",
    "not_exercised": "❌ not exercised",
    "error": "⛔ error",
    "skipped": "skipped",
    "untested": "untested",
}
_LATENCY = {"met": "✅ met", "exceeded": "❌ exceeded", "not_measured": "not measured"}
_ORDER = {"error": 0, "failed": 1, "not_exercised": 2, "waived": 3, "skipped": 4, "passed": 5}


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

    rows: Sequence[Mapping[str, Any]]


Block = Para | Bullets | Table | Snippet | Details | Plot


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    blocks: Sequence[Block] = field(default_factory=tuple)


@dataclass(frozen=True)
class Summary:
    verdict: str
    why: str
    sections: Sequence[Section]


# -- reading the document ----------------------------------------------------------------------


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _named(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMED])
    return shown + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")


def _one_line(text: str, limit: int = REASON_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _reason(message: str, title: str = "") -> str:
    """The first line of a message (after its title, when the message only repeats it)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return _one_line(title)
    first = lines[0]
    if title and first.rstrip(".:") == title.rstrip(".:") and len(lines) > 1:
        first = f"{title.rstrip('.:')}: {lines[1]}"
    elif first.endswith(":") and len(lines) > 1:  # "… missing from the response:" and a list
        first = f"{first} {lines[1]}"
    return _one_line(first)


def _ms(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _statuses(seen: Mapping[str, int]) -> str:
    return ", ".join(f"{n} x {status}" for status, n in sorted(seen.items()))


#: statuses no operation documents but every one may answer: a 405 is the answer to a method
#: its path does not support, which schemathesis's coverage phase sends on purpose (and its
#: ``unsupported_method`` check judges)
NOT_THE_OPERATIONS = frozenset({"405"})


def _covered(status: str, documented: Sequence[str]) -> bool:
    """Whether the spec documents a status: exactly, by range (``4XX``) or by ``default``."""
    keys = {key.upper() for key in documented}
    return (
        status in keys
        or f"{status[:1]}XX" in keys
        or "DEFAULT" in keys
        or status in NOT_THE_OPERATIONS
    )


def _undocumented(operation: Mapping[str, Any]) -> list[str]:
    documented = operation.get("documented")
    if not documented:  # an older verdict.json, or a spec without responses: nothing to say
        return []
    return [s for s in sorted(operation.get("statuses", {})) if not _covered(s, documented)]


def _where(operation: Mapping[str, Any]) -> str:
    return f"{operation['api']} {operation['label']}"


def _why(document: Mapping[str, Any]) -> str:
    """One sentence: why the verdict is what it is."""
    verdict = str(document.get("verdict", "?"))
    operations = document.get("operations", [])
    scenarios = document.get("scenarios", [])
    expired = (document.get("waivers") or {}).get("expired", [])

    def ops(outcome: str) -> list[str]:
        return [_where(o) for o in operations if o["outcome"] == outcome]

    def scens(outcome: str) -> list[str]:
        return [f"{s['api']} {s['name']}" for s in scenarios if s["outcome"] == outcome]

    reasons = []
    if document.get("cut_short"):
        unreached = _not_reached(document)
        reasons.append(
            f"the run was cut short ({_one_line(str(document['cut_short']), 200)}):"
            f" {len(unreached)} not reached; what was judged before the stop follows"
        )
    errors = list(document.get("errors", []))
    if errors:
        more = f" (and {plural(len(errors) - 1, 'more error')})" if len(errors) > 1 else ""
        reasons.append(f"the run broke: {_one_line(errors[0], 200)}{more}")
    if found := ops("error"):
        reasons.append(f"{plural(len(found), 'operation')} could not be tested ({_named(found)})")
    if found := scens("error"):
        reasons.append(f"{plural(len(found), 'scenario')} broke off ({_named(found)})")
    if found := ops("failed"):
        reasons.append(f"{plural(len(found), 'operation')} broke the contract ({_named(found)})")
    if found := scens("failed"):
        reasons.append(f"{plural(len(found), 'scenario')} failed ({_named(found)})")
    if found := ops("not_exercised"):
        reasons.append(
            f"{plural(len(found), 'operation')} never answered with a documented 2xx"
            f" ({_named(found)})"
        )
    if expired:
        names = [str(w.get("name", "?")) for w in expired]
        reasons.append(f"{plural(len(names), 'waiver')} expired ({_named(names)})")
    if verdict == "pass":
        tested = [o for o in operations if o["outcome"] not in ("skipped", "untested")]
        ran = [s for s in scenarios if s["outcome"] != "skipped"]
        waived = sum(o["outcome"] == "waived" for o in operations) + sum(
            s["outcome"] == "waived" for s in scenarios
        )
        said = (
            "the one operation tested conforms"
            if len(tested) == 1
            else f"all {len(tested)} operations tested conform"
            if tested
            else "no operation broke the contract"
        )
        if ran:
            said += (
                " and the one scenario run passed"
                if len(ran) == 1
                else f" and all {len(ran)} scenarios run passed"
            )
        if waived:
            said += f" ({waived} with every failure waived)"
        if untested := ops("untested"):
            said += (
                f"; {plural(len(untested), 'operation')} untested, never answered with a"
                f" documented 2xx ({_named(untested)}): listed first"
            )
        return said[0].upper() + said[1:] + "."
    if not reasons:
        reasons.append("nothing was tested")
    said = "; ".join(reasons)
    if verdict == "broken":
        return f"The verdict cannot be trusted: {said}."
    return said[0].upper() + said[1:] + "."


# -- the sections ------------------------------------------------------------------------------


def _run(document: Mapping[str, Any]) -> Section:
    parts: list[Inline] = []
    for target in document.get("targets", []):
        version = f" (spec {target['spec_version']})" if target.get("spec_version") else ""
        parts += [Code(str(target.get("api", "?"))), f"{version} at {target.get('url', '?')}; "]
    seeds = document.get("seeds")
    seed = f"seeds {', '.join(map(str, seeds))}" if seeds else f"seed {document.get('seed')}"
    parts.append(
        f"{seed}, profile {document.get('profile', '?')},"
        f" conformance {document.get('suite_version', '?')}."
    )
    if document.get("merged_from"):
        shards = document.get("shards") or []
        parts.append(
            f" Merged from {plural(len(document['merged_from']), 'report')}"
            + (f" (shards {', '.join(shards)})" if shards else "")
            + "."
        )
    blocks: list[Block] = [Para(parts)]
    errors = list(document.get("errors", []))
    errors += [
        f"{_where(o)}: {o['errors'][0]}"
        for o in document.get("operations", [])
        if o["outcome"] == "error" and o.get("errors")
    ]
    errors += [
        f"{s['api']} scenario {s['name']}: {s.get('reason') or 'error'}"
        for s in document.get("scenarios", [])
        if s["outcome"] == "error"
    ]
    if errors:
        blocks.append(Para(["What broke the run (the verdict cannot be trusted):"]))
        blocks.append(Bullets([[Flag(_one_line(e, 300))] for e in errors[:SHOWN_FAILURES]]))
    return Section("Run", "run", blocks)


def _counts(document: Mapping[str, Any]) -> Section:
    counts = document.get("counts", {})
    scenarios = counts.get("scenarios", {})
    operations = document.get("operations", [])
    untested = int(counts.get("untested", sum(o["outcome"] == "untested" for o in operations)))
    names: tuple[str, ...] = ("passed", "failed", "waived", "not_exercised", "error", "skipped")
    if untested:  # a column only when the run has some (a spec without x-contract: strict)
        names = ("passed", "failed", "waived", "untested", *names[3:])
    head = ["", *(n.replace("_", " ") for n in names), "total"]

    def cell(n: int, name: str) -> Cell:
        if n and name == "untested":
            return Flag(str(n), "warn")
        return Flag(str(n)) if n and name in ("failed", "not_exercised", "error") else str(n)

    rows: list[list[Cell]] = [
        [
            "operations",
            *(cell(untested if n == "untested" else int(counts.get(n, 0)), n) for n in names),
            str(counts.get("operations", 0)),
        ],
    ]
    if scenarios:
        rows.append(
            [
                "scenarios",
                *(
                    "—" if n in ("not_exercised", "untested") else cell(int(scenarios.get(n, 0)), n)
                    for n in names
                ),
                str(sum(scenarios.values())),
            ]
        )
    blocks: list[Block] = [Table(head, rows, frozenset(range(1, len(head))))]
    if counts.get("throttled"):
        throttled = sorted(
            (op for op in operations if op.get("throttled")),
            key=lambda op: -int(op["throttled"]),
        )
        where = _named([f"{_where(op)} ({op['throttled']})" for op in throttled])
        blocks.append(
            Para(
                [
                    f"{plural(counts['throttled'], 'answer')} stayed 429 (rate limited) after"
                    f" every retry and were not judged: {where}."
                ]
            )
        )
    return Section("Counts", "counts", blocks)


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


def _by_rule(document: Mapping[str, Any]) -> Section:
    where: dict[str, list[str]] = {}
    seen: Counter[str] = Counter()  # for a hand-made or older document without by_rule
    places = [
        (_where(operation), str(failure["check"]))
        for operation in document.get("operations", [])
        for failure in operation.get("failures", [])
    ] + [
        (f"{scenario['api']} scenario {scenario['name']}", str(failure["rule"]))
        for scenario in document.get("scenarios", [])
        for failure in scenario.get("failures", [])
    ]
    for place, rule in places:
        found = where.setdefault(rule, [])
        if place not in found:
            found.append(place)
        seen[rule] += 1
    counted = Counter(
        {str(k): int(v) for k, v in document.get("counts", {}).get("by_rule", {}).items()}
    )
    for rule, n in seen.items():
        counted.setdefault(rule, n)
    missing = [_where(o) for o in document.get("operations", []) if o["outcome"] == "not_exercised"]
    if missing:
        counted["exercised"] = len(missing)
        where["exercised"] = missing
    if not counted:
        return Section("Failures by rule", "by-rule", [Para(["No rule was broken."])])
    ordered = sorted(counted.items(), key=lambda item: (_severity(item[0]).rank, -item[1], item[0]))
    rows: list[list[Cell]] = [
        [Code(rule), _severity_cell(rule), str(n), _named(sorted(set(where.get(rule, [])))),
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


def _failures_found(document: Mapping[str, Any]) -> list[_Failure]:
    found = []
    for scenario in document.get("scenarios", []):
        api, name = str(scenario["api"]), str(scenario["name"])
        for failure in scenario.get("failures", []):
            where = f"{failure.get('part', '')} / {failure.get('step', '')}".strip(" /")
            rule, message = str(failure["rule"]), str(failure.get("message", ""))
            waived = str(failure.get("waived", ""))
            step, said = without_values(where), without_values(message)
            shape = ("scenario", api, name, rule, step, said, waived)
            found.append(
                _Failure(
                    api,
                    [f"scenario {name}: ", where],
                    rule,
                    _reason(message),
                    waived,
                    str(failure.get("curl", "")),
                    0,
                    shape,
                )
            )
    for operation in document.get("operations", []):
        api, label = str(operation["api"]), str(operation["label"])
        for failure in operation.get("failures", []):
            steps = [str(step) for step in failure.get("steps", [])]
            repro = str(failure.get("curl", ""))
            if steps:
                repro = "\n".join(["# first, the requests before it:", *steps, "# then:", repro])
            title, message = str(failure.get("title", "")), str(failure.get("message", ""))
            rule, status = str(failure["check"]), str(failure.get("status", ""))
            waived = str(failure.get("waived", ""))
            said = without_values(f"{title}\n{message}")
            shape = ("check", api, label, rule, status, said, waived)
            found.append(
                _Failure(api, [Code(label)], rule, _reason(message, title), waived, repro, 1, shape)
            )
        if operation["outcome"] == "not_exercised":
            seen = _statuses(operation.get("statuses", {})) or "no answer"
            reason = f"no documented 2xx came back (seen: {seen})"
            found.append(
                _Failure(api, [Code(label)], "exercised", reason, "", "", 2, ("gate", api, label))
            )
    return found


def _failures(document: Mapping[str, Any]) -> Section:
    found = _failures_found(document)
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
            Para(["Reproductions (curl; credentials masked, use your own):"], terminal=False)
        )
        blocks += snippets
    return Section("Failures", "failures", blocks)


def _untested(document: Mapping[str, Any]) -> Section | None:
    """The operations never answered with a documented 2xx on a spec without ``x-contract:
    strict``: nothing they answered was judged as a success, and the reader should know first.
    They do not fail the gate (``--require-exercised`` makes them ``not_exercised``)."""
    untested = sorted(
        (o for o in document.get("operations", []) if o["outcome"] == "untested"),
        key=lambda o: (o["api"], o["label"]),
    )
    if not untested:
        return None
    said = (
        f"{plural(len(untested), 'operation')} never answered with a documented 2xx, so"
        " nothing shows that they work. The spec does not declare x-contract: strict, so this"
        " does not fail the gate (--require-exercised makes it fail)."
    )
    rows: list[list[Cell]] = [
        [
            str(o["api"]),
            Code(str(o["label"])),
            _one_line(str(o.get("reason") or "no documented 2xx came back"), 300),
            _statuses(o.get("statuses", {})) or "—",
        ]
        for o in untested
    ]
    return Section(
        "Untested",
        "untested",
        [
            Para([Flag(said, "warn")]),
            Table(["API", "operation", "why", "seen"], rows, classes=["untested"] * len(rows)),
        ],
    )


def _applied_rules(document: Mapping[str, Any]) -> Section | None:
    """Which rules applied to how many operations of each API, and which were off where, and
    why (verdict.json's ``rules``: the catalogue's answer for the spec); absent without it."""
    rules = document.get("rules")
    if not rules:
        return None
    blocks: list[Block] = []
    for api, entries in sorted(rules.items()):
        applied = [e for e in entries if e.get("applies")]
        off = [e for e in entries if e.get("off")]
        said = (
            f"{plural(len(applied), 'rule')} of {len(entries)} applied to at least one"
            f" operation; {len(off)} {'was' if len(off) == 1 else 'were'} off somewhere"
            + (":" if off else ".")
        )
        blocks.append(Para([Code(str(api)), f": {said}"]))
        if off:
            items: list[Sequence[Inline]] = []
            for entry in off:
                where = [str(label) for label in entry["off"]]
                first = _one_line(str(next(iter(entry["off"].values()))), 200)
                items.append(
                    [Code(str(entry["id"])), f" off for {plural(len(where), 'operation')}"
                     f" ({_named(where)}): {first}"]
                )  # fmt: skip
            blocks.append(Bullets(items))
        rows: list[list[Cell]] = [
            [
                Code(str(e["id"])),
                str(e.get("kind", "")),
                str(e.get("severity", "")),
                str(len(e.get("applies") or [])),
                str(len(e.get("off") or {})),
            ]
            for e in entries
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


def _latency_rows(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    order = {"exceeded": 0, "met": 1, "not_measured": 2}

    def ratio(row: Mapping[str, Any]) -> float:
        budget, p95 = row.get("budget_ms"), row.get("p95_ms")
        if isinstance(budget, (int, float)) and budget > 0 and isinstance(p95, (int, float)):
            return float(p95) / float(budget)
        return 0.0

    return sorted(
        document.get("latency", []),
        key=lambda r: (order.get(r.get("outcome", ""), 3), -ratio(r), r["api"], r["operation"]),
    )


def _latency(document: Mapping[str, Any]) -> Section:
    rows = _latency_rows(document)
    if not rows:
        return Section(
            "Latency", "latency", [Para(["Not measured: the latency scenario did not run."])]
        )
    measured = [r for r in rows if r.get("outcome") in ("met", "exceeded")]
    exceeded = [r for r in measured if r["outcome"] == "exceeded"]
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
    for row in rows:
        outcome = str(row.get("outcome", ""))
        budget = row.get("budget_ms")
        bar: Cell = "—"
        if outcome in ("met", "exceeded") and isinstance(budget, (int, float)) and budget > 0:
            bar = Bar(float(row["p95_ms"]) / float(budget), outcome == "exceeded")
        result = _LATENCY.get(outcome, outcome)
        if row.get("confirmation"):  # a breach of the run, re-measured alone after it
            result += {
                "confirmed": " (confirmed alone)",
                "not_confirmed": " (breach not confirmed alone)",
            }.get(str(row["confirmation"]), " (could not be re-measured)")
        cells.append(
            [
                str(row["api"]),
                Code(str(row["operation"])),
                _ms(row.get("p50_ms")),
                _ms(row.get("p95_ms")),
                _ms(row.get("p99_ms")),
                _ms(row.get("max_ms")),
                str(row.get("samples", 0)),
                _ms(budget),
                bar,
                Flag(result) if outcome == "exceeded" else result,
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
                [str(r.get("outcome", "")) for r in rows],
            ),
            *_remeasured(rows),
            *_unmeasured(rows),
        ],
    )


def _remeasured(rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The breaches of the run re-measured alone after it: both measurements, side by side."""
    again = [row for row in rows if row.get("confirmation")]
    if not again:
        return []
    cells: list[list[Cell]] = []
    for row in again:
        confirmation = str(row["confirmation"])
        if confirmation == "not_possible":
            result: Cell = Flag(f"stands: {row.get('confirmation_reason', '')}")
        elif confirmation == "confirmed":
            result = Flag("confirmed: over budget")
        else:
            result = "not confirmed: within budget"
        cells.append(
            [
                str(row["api"]),
                Code(str(row["operation"])),
                _ms(row.get("budget_ms")),
                _ms(row.get("p95_ms")),
                str(row.get("samples", 0)),
                _ms(row.get("confirmed_p95_ms")),
                str(row.get("confirmation_samples", 0)),
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
    classes = ["met" if row.get("outcome") == "met" else "exceeded" for row in again]
    return [Para([said]), Table(head, cells, frozenset({2, 3, 4, 5, 6}), classes)]


def _unmeasured(rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The operations not measured, each with the reason its row gives."""
    short = [row for row in rows if row.get("outcome") == "not_measured"]
    if not short:
        return []
    items: list[Sequence[Inline]] = [
        [Code(f"{row['api']} {row['operation']}"), f": {row.get('reason') or 'too few samples'}"]
        for row in short
    ]
    return [Details(f"Not measured: {plural(len(short), 'operation')}, and why", [Bullets(items)])]


def _not_reached(document: Mapping[str, Any]) -> list[str]:
    """The operations and scenarios a run cut short did not reach."""
    entries = [*document.get("operations", []), *document.get("scenarios", [])]
    return [
        f"{entry['api']} {entry.get('label') or entry.get('name')}"
        for entry in entries
        if entry.get("outcome") == "skipped"
        and str(entry.get("reason", "")).startswith("not reached")
    ]


def _cut_short(document: Mapping[str, Any]) -> Section | None:
    if not document.get("cut_short"):
        return None
    unreached = _not_reached(document)
    said = (
        f"The run was cut short: {document['cut_short']}. What it judged before the stop is in"
        " this report. Not reached: "
        + (_named(unreached) if unreached else "none")
        + f" ({plural(len(unreached), 'operation or scenario', 'operations and scenarios')})."
    )
    return Section("Cut short", "cut-short", [Para([said])])


def _unable(operations: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The phases that could not generate data for an operation (a hypothesis health check, an
    unsatisfiable schema), each with the engine's reason: they sent nothing, and the operation
    was judged on its other phases (no error, as in ``st run``)."""
    affected = sorted(
        (o for o in operations if o.get("unable")), key=lambda o: (o["api"], o["label"])
    )
    rows: list[list[Cell]] = [
        [str(o["api"]), Code(str(o["label"])), _one_line(str(line).splitlines()[0])]
        for o in affected
        for line in o["unable"]
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


def _coverage(document: Mapping[str, Any]) -> Section:
    operations = document.get("operations", [])
    exercised = [o for o in operations if o.get("documented_2xx_seen")]
    skipped = [o for o in operations if o["outcome"] == "skipped"]
    said = (
        f"{len(exercised)} of {plural(len(operations), 'operation')} exercised"
        " (a documented 2xx came back)."
    )
    if skipped:
        said += f" {len(skipped)} skipped ({skipped[0].get('reason') or 'not sent'})."
    blocks: list[Block] = [Para([said]), *_unable(operations)]
    known = any(o.get("documented") for o in operations)
    if not known and operations:
        blocks.append(Para(["This verdict.json does not say which statuses the spec documents."]))
    odd = [o for o in operations if _undocumented(o)]
    if odd:
        blocks.append(
            Para(
                [
                    Flag(
                        f"{plural(len(odd), 'operation')} answered with a status the spec"
                        " does not document:",
                        "warn",
                    )
                ]
            )
        )
        blocks.append(
            Table(
                ["API", "operation", "undocumented statuses seen", "documented"],
                [
                    [
                        o["api"],
                        Code(o["label"]),
                        Flag(
                            ", ".join(f"{o['statuses'][s]} x {s}" for s in _undocumented(o)),
                            "warn",
                        ),
                        ", ".join(o.get("documented", [])),
                    ]
                    for o in sorted(odd, key=lambda o: (o["api"], o["label"]))
                ],
            )
        )
    elif known:
        blocks.append(Para(["Every status seen is documented in the spec."]))
    if any("405" in o.get("statuses", {}) for o in operations):
        blocks.append(
            Para(
                [
                    "405 answers are to methods a path does not support, sent on purpose:"
                    " not counted as undocumented."
                ]
            )
        )

    def order(o: Mapping[str, Any]) -> tuple[Any, ...]:
        first = 0 if not o.get("documented_2xx_seen") else 1 if _undocumented(o) else 2
        return (o["outcome"] == "skipped", first, o["api"], o["label"])

    rows: list[list[Cell]] = []
    for operation in sorted(operations, key=order):
        odd_ones = set(_undocumented(operation))
        seen: list[Inline] = []
        for status, n in sorted(operation.get("statuses", {}).items()):
            if seen:
                seen.append(", ")
            seen.append(
                Flag(f"{n} x {status} (undocumented)", "warn")
                if status in odd_ones
                else f"{n} x {status}"
            )
        if operation["outcome"] == "skipped":
            mark: Cell = "not sent"
        elif operation.get("documented_2xx_seen"):
            mark = "✅ yes"
        elif operation["outcome"] == "untested":
            mark = Flag("untested", "warn")
        else:
            mark = Flag("❌ no")
        rows.append(
            [
                operation["api"],
                Code(operation["label"]),
                mark,
                ", ".join(operation.get("documented", [])) or "?",
                seen or "—",
            ]
        )
    if rows:
        blocks.append(
            Details(
                f"Statuses per operation ({len(rows)}): documented and seen",
                [Table(["API", "operation", "exercised", "documented", "seen"], rows)],
            )
        )
    return Section("Coverage", "coverage", blocks)


def _scenarios(document: Mapping[str, Any]) -> Section:
    scenarios = document.get("scenarios", [])
    if not scenarios:
        return Section("Scenarios", "scenarios", [Para(["No scenario ran."])])
    rows: list[list[Cell]] = []
    ordered = sorted(scenarios, key=lambda s: (_ORDER.get(s["outcome"], 9), s["api"], s["name"]))
    for scenario in ordered:
        broken: list[Inline] = []
        for failure in scenario.get("failures", []):
            step = f"{failure.get('part', '')} / {failure.get('step', '')}".strip(" /")
            waived = " (waived)" if failure.get("waived") else ""
            broken += ["; " if broken else "", f"{_one_line(step, 160)} ", Code(failure["rule"])]
            broken += [waived] if waived else []
        if scenario.get("reason"):
            broken += ["; " if broken else "", _one_line(str(scenario["reason"]), 300)]
        outcome = _OUTCOME.get(scenario["outcome"], scenario["outcome"])
        rows.append(
            [
                scenario["api"],
                Code(scenario["name"]),
                Flag(outcome) if scenario["outcome"] in ("failed", "error") else outcome,
                str(scenario.get("requests", 0)),
                f"{float(scenario.get('seconds', 0.0)):.1f}",
                [part for part in broken if part] or "—",
            ]
        )
    return Section(
        "Scenarios",
        "scenarios",
        [
            Table(
                ["API", "scenario", "result", "requests", "seconds", "failed steps"],
                rows,
                frozenset({3, 4}),
                [s["outcome"] for s in ordered],
            )
        ],
    )


def _waivers(document: Mapping[str, Any]) -> Section:
    waivers = document.get("waivers") or {}
    in_force = list(waivers.get("in_force", []))
    expired = list(waivers.get("expired", []))
    stale = {w.get("name") for w in waivers.get("stale", [])}
    if not in_force and not expired:
        return Section("Waivers", "waivers", [Para(["No waivers."])])
    expiring = [w for w in in_force if w.get("expiring")]
    said = f"{len(in_force)} in force ({len(expiring)} expiring within 14 days)"
    said += f", {len(expired)} expired" + (" (an expired waiver fails the gate)" if expired else "")
    said += f", {len(stale)} stale" + (" (matched nothing: remove them?)" if stale else "") + "."
    rows: list[list[Cell]] = []

    def row(waiver: Mapping[str, Any], state: Cell) -> list[Cell]:
        where = waiver.get("operation") or f"scenario {waiver.get('scenario')}"
        if waiver.get("api"):
            where = f"{waiver['api']} {where}"
        return [
            state,
            Code(str(waiver.get("rule", "?"))),
            where,
            str(waiver.get("ticket", "")),
            str(waiver.get("expires", "")),
            "yes" if waiver.get("used") else "no",
            _one_line(str(waiver.get("reason", "")), 200),
        ]

    classes = []
    for waiver in expired:
        rows.append(row(waiver, Flag("❌ expired")))
        classes.append("expired")
    for waiver in sorted(in_force, key=lambda w: (not w.get("expiring"), str(w.get("expires")))):
        if waiver.get("expiring"):
            state: Cell = Flag("⚠️ expiring", "warn")
            classes.append("expiring")
        else:
            state = "in force"
            classes.append("in-force")
        if waiver.get("name") in stale:
            state = [state, " (stale)"] if isinstance(state, Flag) else "in force (stale)"
        rows.append(row(waiver, state))
    return Section(
        "Waivers",
        "waivers",
        [
            Para([said]),
            Table(
                ["state", "rule", "where", "ticket", "expires", "used", "reason"],
                rows,
                classes=classes,
            ),
        ],
    )


def _cleanup(document: Mapping[str, Any]) -> Section | None:
    cleanup = document.get("cleanup") or {}
    if not cleanup:
        return None
    items: list[list[Inline]] = []
    for api, report in sorted(cleanup.items()):
        line = f"{api}: removed {plural(int(report.get('removed', 0)), 'resource')} the run created"
        if report.get("restored"):
            line += f"; restored {', '.join(report['restored'])}"
        parts: list[Inline] = [line]
        if report.get("left"):
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report["left"].items()))
            parts.append(f"; left behind (the API cannot delete them): {kinds}")
        if report.get("failed"):
            parts.append(Flag(f"; could not remove {len(report['failed'])}"))
        items.append([*parts, "."])
    return Section("Cleanup", "cleanup", [Bullets(items)])


def _summary(document: Mapping[str, Any]) -> Summary:
    document = SECRETS.mask_data(dict(document))
    cut = _cut_short(document)
    untested, rules, cleanup = _untested(document), _applied_rules(document), _cleanup(document)
    sections = [
        *([untested] if untested is not None else []),
        _run(document),
        *([cut] if cut is not None else []),
        _counts(document),
        _by_rule(document),
        _failures(document),
        _latency(document),
        _coverage(document),
        *([rules] if rules is not None else []),
        _scenarios(document),
        _waivers(document),
        *([cleanup] if cleanup is not None else []),
    ]
    return Summary(str(document.get("verdict", "?")), _why(document), sections)


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


def summary_markdown(document: Mapping[str, Any]) -> str:
    """The summary as GitHub-flavoured markdown (a job summary renders it as it is)."""
    summary = _summary(document)
    icon = _ICONS.get(summary.verdict, "")
    lines = [f"## {icon} Conformance: {summary.verdict.upper()}".replace("#  ", "# "), ""]
    lines += [_md_text(summary.why), ""]
    for section in summary.sections:
        lines += [f"### {section.title}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return mask("\n".join(lines).rstrip() + "\n")


# -- the terminal ------------------------------------------------------------------------------

#: the sections the terminal shows, from the same model as the files (which have them all)
TERMINAL = ("untested", "cut-short", "by-rule", "failures")
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
    return _one_line("".join(_plain(part) for part in parts), TERMINAL_CELL)


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


def terminal_lines(document: Mapping[str, Any]) -> list[str]:
    """The summary for the terminal: the verdict and why, then what matters first (the
    untested operations, failures by rule and the failures, worst first), drawn from the same
    model as ``summary.md`` and ``summary.html`` so that the three cannot disagree."""
    summary = _summary(document)
    lines = [f"verdict: {summary.verdict.upper()}: {summary.why}"]
    for section in summary.sections:
        if section.anchor in TERMINAL:
            lines.append(f"{section.title.lower()}:")
            lines += [f"  {line}" for block in section.blocks for line in _text_block(block)]
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


def _svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Horizontal bars of p95 per measured operation as a share of its budget (the dashed
    line), p50 as a tick and p99 as a dot; over budget in red."""
    drawn = [
        r
        for r in rows
        if isinstance(r.get("budget_ms"), (int, float))
        and r["budget_ms"] > 0
        and isinstance(r.get("p95_ms"), (int, float))
    ]
    if not drawn:
        return ""
    labels = [f"{r['api']} {r['operation']}" for r in drawn]
    label_w = min(420, max(120, 7 * max(len(label) for label in labels) + 16))
    plot_w, note_w, row_h, top = 480, 200, 20, 46
    ratios = [float(r.get("p99_ms") or r["p95_ms"]) / float(r["budget_ms"]) for r in drawn]
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
    for index, (row, label) in enumerate(zip(drawn, labels, strict=True)):
        y = top + index * row_h
        budget = float(row["budget_ms"])
        state = "exceeded" if row.get("outcome") == "exceeded" else "met"
        p95 = float(row["p95_ms"]) / budget
        end = x(p95)
        tip = (
            f"{label}: p95 {_ms(row['p95_ms'])} ms, budget {_ms(row['budget_ms'])} ms"
            f" ({state}; p50 {_ms(row.get('p50_ms'))}, p99 {_ms(row.get('p99_ms'))},"
            f" max {_ms(row.get('max_ms'))} ms; {row.get('samples', 0)} samples)"
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
        if isinstance(row.get("p50_ms"), (int, float)):
            xp = x(float(row["p50_ms"]) / budget)
            out.append(
                f'<line class="p50" x1="{xp:.1f}" y1="{y + 2}" x2="{xp:.1f}" y2="{y + 18}" />'
            )
        if isinstance(row.get("p99_ms"), (int, float)):
            xp = x(float(row["p99_ms"]) / budget)
            out.append(f'<circle class="p99" cx="{xp:.1f}" cy="{y + 10}" r="3" />')
        over = " »" if p95 > axis else ""
        note = f"p95 {_ms(row['p95_ms'])} of {_ms(row['budget_ms'])} ms{over}"
        out.append(
            f'<text class="note {state}" x="{label_w + plot_w + 8}" y="{y + 14}">{_h(note)}</text>'
        )
    xb = x(1.0)
    out.append(
        f'<line class="budget" x1="{xb:.1f}" y1="{top - 6}" x2="{xb:.1f}" y2="{height - 8}" />'
    )
    out.append("</svg>")
    return "".join(out)


def summary_html(document: Mapping[str, Any]) -> str:
    """The summary as one HTML file that needs nothing else: no script, no font, no request."""
    summary = _summary(document)
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


def write_summary(reports: Path, document: Mapping[str, Any]) -> tuple[Path, Path]:
    """``summary.md`` and ``summary.html`` in ``reports``, masked: the last gate before the
    disk."""
    reports.mkdir(parents=True, exist_ok=True)
    markdown, page = reports / "summary.md", reports / "summary.html"
    markdown.write_text(mask(summary_markdown(document)), encoding="utf-8")
    page.write_text(mask(summary_html(document)), encoding="utf-8")
    return markdown, page

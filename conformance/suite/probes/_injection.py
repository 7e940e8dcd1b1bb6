"""Injection signals (OWASP API8, security misconfiguration: input reaching a query unescaped),
seen from outside: SQL and NoSQL metacharacters in string parameters.

- ``injection-signal``: for each GET with a string path or query parameter (a search's first;
  at most `MAX_OPERATIONS`), a benign value first (the baseline: an answer below 500, else the
  operation is broken without any payload and is left alone), then each of `PAYLOADS` (a
  quote, a tautology, a comment, an operator object). A 5xx where the baseline was not, or a
  database error's text (`DB_ERRORS`) the baseline did not carry, is the finding: the value
  reached a query as code. A GET is a read, so any value is safe to send, whoever's data it
  names.
- Writes get payloads only on a disposable target (``environment = "disposable"``): a tautology
  in an update's WHERE could change other users' rows. There, each kind the run can make is
  made once with a benign body and then with a payload in one of its string members, and what
  was made is deleted again. On a shared target that part is a skipped step that says why.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from conformance.contract import Operation, Parameter, Spec
from conformance.suite._journal import Journal
from conformance.suite._unique import value_for
from conformance.suite.scenarios._makers import Actor, Maker, payload
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    scenario_rule,
)

INJECTION = scenario_rule("injection-signal")

#: what is sent in a string parameter: a lone quote, a tautology, a comment, a NoSQL operator
PAYLOADS = ("'", "' OR '1'='1", '"; --', '{"$ne": null}')
#: what is sent in a write's string member (disposable targets only): no tautology
WRITE_PAYLOADS = ("'", '"; --')
#: operations probed at most (reads), and kinds made at most (writes)
MAX_OPERATIONS = 6
MAX_KINDS = 3
#: the names of a parameter that is likely to reach a query as text, tried first
SEARCHY = ("search", "q", "query", "filter", "name", "title", "username", "email", "slug")
#: a database driver's error text in an answer
DB_ERRORS = re.compile(
    r"sqlite3?\.\w*Error|OperationalError|SQLITE_ERROR|syntax error at or near"
    r"|You have an error in your SQL syntax|\bORA-\d{5}\b|\bpsycopg2?\b|\bSQLSTATE\b"
    r"|MongoError|MongoServerError|unterminated quoted string|Unclosed quotation mark"
    r"|PG::SyntaxError|SQLException",
    re.IGNORECASE,
)
#: the characters of an answer a finding quotes around the database error
QUOTED = 120


@scenario(
    "injection",
    kind="probe",
    requires="GET operations with a string path or query parameter (the string members of"
    " creates too, on a disposable target)",
    max_requests=60,
    max_seconds=20,
    order=50,
    read_only=True,
)
def injection(context: ScenarioContext, story: Story) -> None:
    targets = list(_targets(context.spec))[:MAX_OPERATIONS]
    if not targets:
        raise ScenarioSkipped("no GET operation takes a string path or query parameter")
    probe = Injection(story, context.run_token())
    with story.part("metacharacters in a read's parameters"):
        for operation, parameter in targets:
            with contextlib.suppress(Violation, StepSkipped):
                probe.read(operation, parameter)
    with story.part("metacharacters in a write's string members"):
        probe.writes(context)


# -- what is probed ------------------------------------------------------------------------------


def text_schema(spec: Spec, schema: Any) -> bool:
    """A free string: no enum, const or format (a uuid or a date is parsed before any query)."""
    found = spec.deref(schema)
    if not isinstance(found, Mapping):
        return False
    kinds = found.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "string" in kinds and not ({"enum", "format", "const"} & set(found))


def _targets(spec: Spec) -> Iterator[tuple[Operation, Parameter]]:
    """Each GET's string parameter most likely to reach a query (a search's first), the GETs
    with such a search first."""
    found = []
    for operation in spec.operations:
        if operation.method != "get":
            continue
        strings = [p for p in operation.parameters
                   if p.location in ("path", "query") and text_schema(spec, p.schema)]  # fmt: skip
        if strings:
            strings.sort(key=lambda p: p.name not in SEARCHY)
            found.append((operation, strings[0]))
    found.sort(key=lambda pair: pair[1].name not in SEARCHY)
    yield from found


def db_error(text: str) -> str:
    """The database error an answer's text carries, quoted around its match ("" for none)."""
    match = DB_ERRORS.search(text)
    if match is None:
        return ""
    start = max(0, match.start() - 20)
    return " ".join(text[start : start + QUOTED].split())


# -- the probe -----------------------------------------------------------------------------------


class Injection:
    def __init__(self, story: Story, token: str | None) -> None:
        self.story, self.token, self.spec = story, token, story.spec

    def send(self, operation: Operation, parameter: Parameter, value: str) -> httpx.Response:
        """``operation`` with ``value`` in ``parameter`` and its other required ones filled."""
        path, query = operation.path, {}
        for other in operation.parameters:
            if other.location not in ("path", "query"):
                continue
            if other is parameter:
                chosen: Any = value
            elif other.location == "path" or other.required:
                chosen = value_for(self.spec, other.schema, other.name)
            else:
                continue
            if other.location == "path":
                path = path.replace(f"{{{other.name}}}", urllib.parse.quote(str(chosen), safe=""))
            else:
                query[other.name] = chosen
        if query:
            path += "?" + str(httpx.QueryParams(query))
        return self.story.send(operation, token=self.token, path=path)

    def read(self, operation: Operation, parameter: Parameter) -> None:
        where = f"{parameter.location} parameter {parameter.name}"
        with self.story.step(f"{operation.label}: metacharacters in its {where}"):
            benign = str(value_for(self.spec, parameter.schema, parameter.name))
            baseline = self.send(operation, parameter, benign)
            if baseline.status_code >= 500:
                raise StepSkipped(
                    f"not applicable: the benign {parameter.name}={benign!r} answered"
                    f" {baseline.status_code} already (broken, not injectable)"
                )
            for sent in PAYLOADS:
                response = self.send(operation, parameter, sent)
                self.judge(f"{operation.label} with {parameter.name}={sent!r}", baseline,
                           response, f"the benign {parameter.name}={benign!r}")  # fmt: skip

    def judge(
        self, said: str, baseline: httpx.Response, response: httpx.Response, benign: str
    ) -> None:
        status, before = response.status_code, baseline.status_code
        error = db_error(response.text)
        shown = f": {error!r}" if error else ""
        self.story.check(
            not (status >= 500 and before < 500),
            INJECTION,
            f"{said} answered {status}{shown}, where {benign} answered {before}: the value"
            " reached a query unescaped",
        )
        self.story.check(
            not error or bool(db_error(baseline.text)),
            INJECTION,
            f"{said} answered {status} with a database error{shown}, which {benign} did not",
        )

    # -- writes, on a disposable target only ---------------------------------------------------

    def writes(self, context: ScenarioContext) -> None:
        with self.story.step("payloads in the string members of creates"):
            if context.read_only:
                raise StepSkipped("a read-only run sends no write")
            if not context.disposable:
                raise StepSkipped(
                    "a shared target: payloads go only into reads (a tautology in a write could"
                    ' change other users\' data); environment = "disposable" sends them into'
                    " creates too"
                )
        maker = Maker(self.story, Actor("the run", None, context.run_token),
                      Journal(context.journal))  # fmt: skip
        try:
            kinds = [k for k in maker.by_kind if maker.can_make(k)][:MAX_KINDS]
            for kind in kinds:
                with contextlib.suppress(Violation, StepSkipped):
                    self.create(maker, kind)
        finally:
            self.story.allow(2 * MAX_KINDS * (1 + len(WRITE_PAYLOADS)), 10)
            maker.remove()

    def create(self, maker: Maker, kind: str) -> None:
        resource = maker.resource(kind)
        create = resource.create if resource is not None else None
        if create is None:  # pragma: no cover - can_make said there is one
            return
        schema = self.spec.request_schema(create)
        members = [n for n, s in self.spec.properties(schema).items() if text_schema(self.spec, s)]
        if not members:
            return
        member = sorted(members, key=lambda n: n not in SEARCHY)[0]
        with self.story.step(f"{create.label}: metacharacters in its member {member}"):
            benign = maker.body(create)
            baseline = self.made(maker, kind, create, benign)
            if baseline.status_code >= 500:
                raise StepSkipped(
                    f"not applicable: a benign create answered {baseline.status_code}"
                )
            for sent in WRITE_PAYLOADS:
                response = self.made(maker, kind, create, maker.body(create, {member: sent}))
                self.judge(f"{create.label} with {member}={sent!r}", baseline, response,
                           "a benign body")  # fmt: skip

    def made(
        self, maker: Maker, kind: str, create: Operation, body: dict[str, Any]
    ) -> httpx.Response:
        """The create's answer; what it made is kept for removal."""
        response = self.story.send(create, token=maker.token, json_body=body)
        if 200 <= response.status_code < 300:
            resource = maker.resource(kind)
            assert resource is not None
            with contextlib.suppress(StepSkipped, Violation):
                maker.keep(kind, resource, payload(create, response), body)
        return response

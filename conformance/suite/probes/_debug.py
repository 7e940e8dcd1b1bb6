"""Debug endpoints and leaks (OWASP API8, security misconfiguration), with reads only.

- ``debug-endpoint``: the spec's own GETs whose path or summary says debug or diagnostics
  (`DEBUG_WORDS`: ``/debug``, ``/actuator``, ``/_internal``, ``/heapdump`` …), and the
  conventional undocumented paths (`CONVENTIONAL`: ``/debug/vars``, ``/actuator/env``,
  ``/.env``, ``/.git/config``, ``/server-status`` …, relative to the API's base URL), each
  sent once with the run's credential. A 2xx whose body looks like data (a JSON object or array
  with members, or text of ``name=value`` lines, secret names, a git config) is the finding; a
  stack trace in any of those answers too. An app that answers every path alike (a SPA's
  fallback page) is told first, by a nonsense path: an answer equal to that one is no finding.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator

import httpx

from conformance.checks import RULES, Exchange
from conformance.contract import Operation, Spec
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    scenario_rule,
)

DEBUG_ENDPOINT = scenario_rule("debug-endpoint")

#: conventional debug and diagnostic paths, relative to the API's base URL
CONVENTIONAL = (
    "/debug", "/debug/vars", "/debug/pprof/", "/_debug", "/api/debug", "/actuator",
    "/actuator/env", "/env", "/.env", "/.git/config", "/config.json", "/server-status",
    "/phpinfo.php", "/console", "/__debug__/",
)  # fmt: skip
#: a documented path segment (or a word of a summary) that says debug or diagnostics
DEBUG_WORDS = frozenset(
    {"debug", "_debug", "__debug__", "actuator", "_internal", "server-status", "phpinfo",
     "phpinfo.php", "console", "trace", "heapdump", "pprof", "diagnostics", ".env", "env"}
)  # fmt: skip
_SUMMARY = re.compile(r"\b(?:debug(?:ging)?|diagnostics?|heap ?dump)\b", re.IGNORECASE)
#: a text body's lines that look like settings or secrets
_SETTINGS = re.compile(
    r"^\s*[A-Za-z_][\w.]*\s*=\s*\S|^\s*\[core\]|repositoryformatversion|PHP Version"
    r"|\b(?:SECRET|PASSWORD|API_KEY|PRIVATE KEY|TOKEN)\b",
    re.MULTILINE | re.IGNORECASE,
)
#: a stack trace, as the `no_leaks` rule tells one
_TRACES = ("stack trace", "stack frame")


@scenario(
    "debug_endpoints",
    kind="probe",
    requires="nothing: the spec's debug-looking GETs and the conventional debug paths",
    max_requests=25,
    max_seconds=20,
    order=55,
    read_only=True,
)
def debug_endpoints(context: ScenarioContext, story: Story) -> None:
    documented = list(debug_operations(context.spec))
    taken = {operation.path for operation in documented}
    conventional = [undocumented(path) for path in CONVENTIONAL if path not in taken]
    if not documented and not conventional:  # pragma: no cover - CONVENTIONAL is never empty
        raise ScenarioSkipped("no debug path to try")
    probe = Debug(story, context.run_token())
    with story.part("debug and diagnostic endpoints answer no data"):
        with story.step("a nonsense path, to tell an app that answers every path alike"):
            probe.fallback = probe.send(undocumented(f"/no-such-{uuid.uuid4().hex}"))
        for operation in [*documented, *conventional]:
            with contextlib.suppress(Violation, StepSkipped):
                probe.judge(operation, documented=operation in documented)


def debug_operations(spec: Spec) -> Iterator[Operation]:
    """The spec's GETs without path parameters whose path or summary says debug."""
    for operation in spec.operations:
        if operation.method != "get" or operation.path_parameters:
            continue
        segments = {s.lower() for s in operation.path.strip("/").split("/")}
        summary = str(operation.definition.get("summary") or "")
        if segments & DEBUG_WORDS or _SUMMARY.search(summary):
            yield operation


def undocumented(path: str) -> Operation:
    """An operation the spec does not have, for a request to ``path``: the run's credential goes
    on it (no security of its own), and no check of the spec judges its answer."""
    return Operation(
        "get", path, "", {}, f"undocumented GET {path}", (), (), (), None, None, None,
    )  # fmt: skip


def looks_like_data(response: httpx.Response) -> str:
    """What in a body looks like data a debug endpoint gives away ("" when nothing does)."""
    text = response.text
    media = response.headers.get("content-type", "")
    with contextlib.suppress(ValueError):
        body = json.loads(text)
        if isinstance(body, dict) and body:
            return f"a JSON object of {len(body)} members ({', '.join(list(body)[:5])})"
        if isinstance(body, list) and body:
            return f"a JSON array of {len(body)} items"
        return ""
    if "html" in media and "PHP Version" not in text:
        return ""
    found = _SETTINGS.search(text)
    return f"text with settings ({found.group(0).strip()[:40]!r} …)" if found else ""


def traces(response: httpx.Response, path: str) -> list[str]:
    """The stack traces the `no_leaks` rule finds in the answer."""
    exchange = Exchange("GET", path, response.status_code, response.headers, response.content)
    return [said for said in RULES["no_leaks"](exchange) if any(t in said for t in _TRACES)]


class Debug:
    def __init__(self, story: Story, token: str | None) -> None:
        self.story, self.token = story, token
        self.fallback: httpx.Response | None = None

    def send(self, operation: Operation) -> httpx.Response:
        return self.story.send(operation, token=self.token, retry_429=False)

    def judge(self, operation: Operation, *, documented: bool) -> None:
        kind = "documented" if documented else "conventional"
        with self.story.step(f"GET {operation.path} ({kind})"):
            response = self.send(operation)
            status = response.status_code
            said = f"GET {operation.path} ({kind} debug path) answered {status}"
            for trace in traces(response, operation.path):
                self.story.check(False, DEBUG_ENDPOINT, f"{said}: {trace}")
            if not 200 <= status < 300:
                return
            if self.answers_everything(response):
                raise StepSkipped(
                    "not applicable: a nonsense path gets the same answer (the app answers"
                    " every path alike)"
                )
            data = looks_like_data(response)
            self.story.check(not data, DEBUG_ENDPOINT, f"{said} with {data}")

    def answers_everything(self, response: httpx.Response) -> bool:
        fallback = self.fallback
        return (
            fallback is not None
            and 200 <= fallback.status_code < 300
            and fallback.content == response.content
        )

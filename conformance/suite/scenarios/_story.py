"""A scenario told as a story: parts, steps, and the requests each step sends.

A *part* is an independent sub-story (rotation, logout …): a broken rule ends it, and the
scenario goes on with the next part, so one run finds every broken rule. A *step* is one claim
of the contract; it is an ``allure.step`` with each request and response attached (masked), and
it ends as passed, failed (the rule it broke, in one sentence) or skipped (with the reason).

Every story is bounded: at most ``max_requests`` requests and ``max_seconds`` seconds (sleeps
included); past either it stops as an error, never as a verdict.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import allure
import httpx

from conformance.catalogue import Kind, of_kind
from conformance.checks import NO_WAIT, WaitPolicy
from conformance.contract import Operation, Spec
from conformance.masking import mask, register, reproduction
from conformance.suite._engine import Network, abridged
from conformance.suite._present import Presenter
from conformance.suite.scenarios._judge import ResponseJudge
from conformance.verdict import LatencyRow, ScenarioFailure, StepRecord

#: rule -> the contract's words for it (CONTRACT.md's section first): the catalogue's scenario
#: and probe rules, the only ones a scenario (or a probe) may name
RULES: Mapping[str, str] = {rule.id: rule.words for rule in of_kind(Kind.SCENARIO, Kind.PROBE)}


def scenario_rule(rule_id: str) -> str:
    """``rule_id``, if the catalogue lists it as a scenario rule. A scenario module names each
    rule it judges by through this, once, at import: a misspelt or unlisted rule stops the
    import instead of turning up in a verdict no report, waiver or self-test knows."""
    if rule_id not in RULES:
        raise ValueError(
            f"{rule_id!r} is not a scenario rule of the catalogue; add it to"
            " conformance/catalogue.py or name one it lists"
        )
    return rule_id


#: the latency scenario's rule: a verdict awaiting confirmation is pending on it alone
LATENCY_BUDGET = scenario_rule("latency-budget")


def error_code(response: httpx.Response) -> object:
    """The ``code`` of an error answer's body (None when it has none)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def crashed(what: str, error: BaseException) -> str:
    """One line on a crash of the suite's own code: the error and where it was raised (the
    innermost frame), so that a run that cannot judge says why."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return mask(f"{what} crashed: {type(error).__name__}: {error}{where}")


#: findings of the fuzzing's checks kept per check and operation in one scenario (a header
#: missing from every answer of a burst is one finding, not hundreds)
FINDINGS_KEPT = 3


class Violation(Exception):
    """A step found the backend breaking a rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = scenario_rule(rule), message


class StepSkipped(Exception):
    """A step (and the rest of its part) cannot be taken here; the reason says why."""


class ScenarioSkipped(Exception):
    """The whole scenario cannot run here (a declaration missing, a read-only run …)."""

    def __init__(self, reason: str, *, missing_declaration: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.missing_declaration = reason, missing_declaration


class Exhausted(Exception):
    """The story spent its requests or its seconds: the harness's limit, not a verdict."""


class Late(Exception):
    """An answer came too late to prove the claim either way: the token it was about may have
    expired by its own lifetime, the rate-limit window it was to fall in may have ended. On a
    slow machine or target that happens; the part is played again (`Story.play`)."""


#: plays of a part whose answers came `Late`, before the story gives up (an error, no verdict)
PLAYS = 3

#: a story's requests wait out each ``Retry-After`` (and a tenth of a second more), bounded by
#: the story's own requests and seconds (`Exhausted`), not by a bound of their own
STORY_WAITS = WaitPolicy(margin_s=0.1)


#: what a scenario's failure keeps of the finding's message (its head and tail: `abridged`)
MESSAGE_KEPT = 300


def curl(request: httpx.Request) -> str:
    """``request`` as a curl line that runs as pasted (`conformance.masking.reproduction`: the
    run's credentials as their variables, other secrets masked)."""
    parts = ["curl", "-X", request.method]
    for raw_name, raw_value in request.headers.raw:  # the names as sent, not lower-cased
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.lower() in ("host", "content-length", "accept-encoding", "connection"):
            continue
        parts += ["-H", f"{name}: {value}"]
    if request.content:
        parts += ["-d", request.content.decode("utf-8", "replace")]
    return reproduction(shlex.join([*parts, str(request.url)]))


def _shown(headers: Mapping[str, str], body: bytes) -> str:
    lines = [f"{name}: {value}" for name, value in headers.items()]
    text = body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2)
    return mask("\n".join(lines) + ("\n\n" + text if text else ""))


class Story:
    """One scenario's run against one API: its requests, steps and findings."""

    def __init__(
        self,
        api: str,
        scenario: str,
        spec: Spec,
        url: str,
        network: Network,
        *,
        max_requests: int,
        max_seconds: float,
        presenter: Presenter | None = None,
    ) -> None:
        self.api, self.scenario, self.spec, self.url = api, scenario, spec, url.rstrip("/")
        #: how a token goes on a request (the run's scheme; a bearer where it has none)
        self.presenter = presenter or Presenter(spec, None)
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.client = httpx.Client(**network.httpx_options())
        self.started = time.monotonic()
        self.requests = 0
        self.steps: list[StepRecord] = []
        self.failures: list[ScenarioFailure] = []
        #: operation label -> seconds of its 2xx answers (the latency verdict takes them)
        self.samples: dict[str, list[float]] = {}
        #: the last request sent: a failure's reproduction
        self.last: httpx.Request | None = None
        #: a table the scenario reports (the latency scenario's rows)
        self.table: list[LatencyRow] = []
        self._part = ""
        self._step = ""
        self._lock = threading.Lock()
        #: the fuzzing's response-only checks, on every answer (`_judge`)
        self.judge = ResponseJudge(spec)
        #: answers not attached (the latency measurement's), judged at the end, not while
        #: other clients are being timed: (part, step, operation, response)
        self._unjudged: list[tuple[str, str, Operation, httpx.Response]] = []
        #: (check, operation label) -> findings recorded (the first `FINDINGS_KEPT` are kept)
        self._found: dict[tuple[str, str], int] = {}
        #: inside `unattached`: no request goes to Allure, every answer is judged at the end
        self._unattached = False

    def close(self) -> None:
        self.client.close()
        pending, self._unjudged = self._unjudged, []
        for part, step, operation, response in pending:
            self._judge(part, step, operation, response)

    # -- bounds --------------------------------------------------------------------------------

    def remaining_s(self) -> float:
        return self.max_seconds - (time.monotonic() - self.started)

    def allow(self, requests: int, seconds: float) -> None:
        """More room for what must happen whatever the story spent (its cleanup)."""
        self.max_requests = max(self.max_requests, self.requests) + requests
        spent = time.monotonic() - self.started
        self.max_seconds = max(self.max_seconds, spent) + seconds

    def sleep(self, seconds: float) -> None:
        if seconds > self.remaining_s():
            raise Exhausted(
                f"waiting {seconds:.1f} s would pass the scenario's {self.max_seconds:.0f} s"
            )
        time.sleep(max(0.0, seconds))

    @contextlib.contextmanager
    def unattached(self) -> Iterator[None]:
        """Send every request as ``attached=False`` meanwhile (a measurement's hundreds, sent
        through the makers and sessions that attach theirs)."""
        before, self._unattached = self._unattached, True
        try:
            yield
        finally:
            self._unattached = before

    # -- structure -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def part(self, title: str) -> Iterator[None]:
        """An independent sub-story: a broken rule or a skip ends it, the scenario goes on."""
        self._part = title
        try:
            with allure.step(title):
                try:
                    yield
                except (Violation, StepSkipped) as stop:
                    if not getattr(stop, "recorded", False):  # between steps: still reported
                        self._record("(between steps)", stop, 0.0)
        finally:
            self._part = ""

    def play(self, title: str, part: Callable[[], None]) -> None:
        """`part` as the part ``title``, played again while an answer comes `Late`, at most
        `PLAYS` times; then the story ends as `Exhausted`: it could not judge, and says why.
        The steps of a late play are forgotten (its Allure steps stay, saying why)."""
        late = ""
        for _ in range(PLAYS):
            mark = len(self.steps)
            try:
                with self.part(title):
                    part()
            except Late as error:
                del self.steps[mark:]
                late = str(error)
                continue
            return
        raise Exhausted(
            f"the {title} part was played {PLAYS} times and each time an answer came too late"
            f" to judge ({late}): too slow a machine or target for it"
        )

    @property
    def part_title(self) -> str:
        """The part a step belongs to ("setup" outside any part)."""
        return self._part or "setup"

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        began = time.monotonic()
        self._step = title
        with allure.step(title):
            try:
                yield
            except (Violation, StepSkipped) as stop:
                self._record(title, stop, time.monotonic() - began)
                raise
            finally:
                self._step = ""
            took = time.monotonic() - began
            self.steps.append(StepRecord(self.part_title, title, "passed", "", took))

    def _record(self, title: str, stop: Violation | StepSkipped, took: float) -> None:
        part = self.part_title
        stop.recorded = True  # type: ignore[union-attr]
        if isinstance(stop, StepSkipped):
            self.steps.append(StepRecord(part, title, "skipped", str(stop), took))
            return
        self.steps.append(StepRecord(part, title, "failed", stop.message, took))
        self.failures.append(
            ScenarioFailure(
                stop.rule,
                RULES[stop.rule],
                part,
                title,
                mask(stop.message),
                curl(self.last) if self.last is not None else "",
            )
        )

    def check(self, holds: bool, rule: str, message: str) -> None:
        if not holds:
            raise Violation(rule, message)

    # -- requests ------------------------------------------------------------------------------

    def send(
        self,
        operation: Operation,
        *,
        token: str | None = None,
        path: str | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_429: bool = True,
        attached: bool = True,
        form: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request to ``operation`` (at ``path`` when its template has parameters), with
        ``token`` presented as the run's scheme presents it (a bearer by default). A 429 is
        waited out (bounded) unless ``retry_429`` is False. ``attached``: the request and its
        answer go to the step's Allure attachments (not the latency measurement's thousands).
        ``form``: the body as a form (an OAuth2 token request, a form login), not JSON."""
        presented = self.presenter.for_operation(operation, token)
        sent = presented.httpx_headers(headers)
        url = self.url + (path if path is not None else operation.path)
        if presented.params:
            url = str(httpx.URL(url).copy_merge_params(dict(presented.params)))
        patience = (STORY_WAITS if retry_429 else NO_WAIT).patience()
        while True:  # bounded by the story's requests and seconds (`Exhausted`)
            response = self.request(operation, url, sent, json_body, attached, form)
            wait = patience.wait_s(response)
            if wait is None:
                return response
            self.sleep(wait)

    def request(
        self,
        operation: Operation,
        url: str,
        headers: Mapping[str, str],
        json_body: Any,
        attached: bool = True,
        form: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        with self._lock:
            if self.requests >= self.max_requests:
                raise Exhausted(f"the scenario's {self.max_requests} requests are spent")
            self.requests += 1
        if self.remaining_s() <= 0:
            raise Exhausted(f"the scenario's {self.max_seconds:.0f} s are spent")
        method = operation.method.upper()
        began = time.perf_counter()
        response = self.client.request(
            method,
            url,
            headers=dict(headers),
            json=json_body,
            timeout=self.client.timeout,
            data=dict(form) if form is not None else None,
        )
        took = time.perf_counter() - began
        self.remember(response)
        with self._lock:
            self.last = response.request
            if 200 <= response.status_code < 300:
                self.samples.setdefault(operation.label, []).append(took)
        if not attached or self._unattached:
            with self._lock:
                self._unjudged.append((self.part_title, self._step, operation, response))
            return response
        self._judge(self.part_title, self._step, operation, response)
        allure.attach(
            f"{method} {url}\n" + _shown(response.request.headers, response.request.content),
            name=f"request: {operation.operation_id}",
            attachment_type=allure.attachment_type.TEXT,
        )
        allure.attach(
            f"{response.status_code} ({took * 1000:.0f} ms)\n"
            + _shown(response.headers, response.content),
            name=f"response: {response.status_code}",
            attachment_type=allure.attachment_type.TEXT,
        )
        return response

    def _judge(self, part: str, step: str, operation: Operation, response: httpx.Response) -> None:
        """Record what the fuzzing's checks find in one answer, without ending the part: its
        own rules still run."""
        for finding in self.judge.judge(operation, response):
            key = (finding.check, operation.label)
            with self._lock:
                self._found[key] = seen = self._found.get(key, 0) + 1
                if seen > FINDINGS_KEPT:
                    continue
                said = abridged(mask(" ".join(finding.message.split())), MESSAGE_KEPT)
                said = said or finding.title
                self.failures.append(
                    ScenarioFailure(
                        finding.check,
                        finding.title,
                        part,
                        step or "(between steps)",
                        mask(f"{operation.label} answered {response.status_code}: {said}"),
                        curl(response.request),
                    )
                )

    def remember(self, response: httpx.Response) -> None:
        """Tokens an answer hands out are secrets from now on. An access token is named after
        the variable a user passes one in: a reproduction needs a token, and
        ``$CONFORMANCE_<API>_TOKEN`` is how a user gives one (`masking.reproduction`)."""
        variable = f"CONFORMANCE_{self.api.upper()}_TOKEN"
        for name in ("accessToken", "refreshToken", "access_token", "refresh_token", "token"):
            for value in _members(response, name):
                register(value, variable=None if "refresh" in name else variable)


def _members(response: httpx.Response, name: str) -> Iterator[str]:
    if b'"' + name.encode() + b'"' not in response.content:
        return
    try:
        stack = [response.json()]
    except ValueError:
        return
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == name and isinstance(inner, str):
                    yield inner
                else:
                    stack.append(inner)
        elif isinstance(value, list):
            stack.extend(value)

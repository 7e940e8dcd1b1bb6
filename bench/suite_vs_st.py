"""The suite against schemathesis's own CLI, side by side: wall time, requests, findings.

One after the other, each on a fresh embedded reference backend (both APIs, served in this
process, the ``service`` principal's and login's rate limits lifted as ``conformance run`` lifts
them for its own backend, so that the policy does not throttle):

1. ``suite``: ``conformance run --target gloria=URL --target tchat=URL --profile P --seed S``
   (an API an xdist worker, as ``conformance run`` does by default on 2 CPUs or more)
   (schemathesis's engine once per API, the contract's checks, the focused stateful passes for
   what the first pass left unanswered, the verdict), logging in as ``service``
   (``CONFORMANCE_<API>_USERNAME`` / ``_PASSWORD``) and again after a 401;
2. ``st run`` on each bundled spec with the same checks (``SCHEMATHESIS_HOOKS=conformance.checks
   st run SPEC --url URL --checks all``) and a generated ``schemathesis.toml`` (``--config-file``)
   holding exactly what ``engine_settings`` gives the engine for that profile, seed and choice of
   link inference (the dict is captured from it), authenticated as the same ``service``:

   - ``st (token)``: one access token from a login, sent as the ``Authorization`` header (the
     fuzzed logout revokes it, and the rest of the run gets 401s);
   - ``st (re-login)``: schemathesis's dynamic auth (``[auth.dynamic.openapi]``), logging in
     through the spec's ``x-auth-flow`` login again after a 401, as the suite does;

3. ``plain httpx``: a ``httpx.Client`` loop of ``GET /schools/{id}`` (gloria) for
   ``--plain-seconds`` in a process of its own: the rate a client gets without a harness;
4. (``--only`` picks some; all by default) ``defects``: on a backend with one defect on
   (`COMPARED_DEFECTS`, ``--defect NAME``), the suite's gate and ``st (re-login)`` on its API:
   caught or not, by which rules (the suite: a failed verdict; st: more failures than it
   reports on the clean backend); ``workers``: the suite serial (``-n 0``) against the default;
   ``scaling``: the fuzzing of gloria's first 10, 20, 40 and all operations; ``fail-fast``: the
   lever, a defective backend's run to its end and with ``--fail-fast``.

Requests are counted at the server, not from the tools' own reports: every answer the reference
app sends, per API, status and operation (so also the operations answered with a 2xx at least
once, and the calls of the login operations); the requests uvicorn refuses before the app (st's
probe of a NULL byte in a header) are counted apart. Server CPU is this process's, tool CPU its
children's. Wall time is
from start to exit of the tool's processes (interpreter start-up included). Prints a table and
the ratios, writes ``reports/bench-suite.json`` and, with the reference backend's own load
(``reports/bench-reference.json``, from ``bench/reference_load.py``), the ratios in
``reports/bench.json``; the tools' output and the generated configs go to
``reports/bench-suite/``, credentials masked (they travel in environment variables only).

    .venv/bin/python bench/suite_vs_st.py [--seed 1] [--profile gate] [--st-auth both]
        [--plain-seconds 5] [--timeout 600] [--only defects|workers|scaling|fail-fast]
        [--defect NAME]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import functools
import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import tomlkit

from conformance import reference
from conformance.contract import BUNDLED_APIS, RateLimit, Spec, bundled_spec, load_spec
from conformance.runner import EMBEDDED_RATE_LIMITS
from conformance.suite import PROFILES, Credentials, engine_settings, link_sources, sign_in

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "bench-suite"
BIN = Path(sys.executable).parent
#: the environment variables the st runs read their credentials from (never argv, never a file)
TOKEN_VAR = "CONFORMANCE_BENCH_TOKEN"
USERNAME_VAR = "CONFORMANCE_BENCH_USERNAME"
PASSWORD_VAR = "CONFORMANCE_BENCH_PASSWORD"
ST_AUTH = {"token": "st (token)", "relogin": "st (re-login)"}

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BenchError(Exception):
    """One sentence on why the benchmark could not finish."""


class Routes:
    """Which operation of a spec a request is for: its method and path against the templates."""

    def __init__(self, spec: Spec) -> None:
        flow = spec.declarations.auth_flow
        self.login = flow.login.operation_id if flow is not None else None
        table = []
        for op in spec.operations:
            parts = re.split(r"(\{[^}]+\})", spec.base_path + op.path)
            pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
            table.append((op.path.count("{"), op.method.upper(), pattern, str(op.operation_id)))
        table.sort(key=lambda entry: entry[0])  # /items/bulk before /items/{id}
        self.table = [(method, re.compile(pattern + "$"), op) for _, method, pattern, op in table]

    def operation(self, method: str, path: str) -> str | None:
        for candidate, pattern, operation_id in self.table:
            if candidate == method and pattern.match(path):
                return operation_id
        return None


@dataclass
class Counts:
    """What the server saw of one tool's run."""

    #: api -> status -> answers the reference app sent
    statuses: dict[str, collections.Counter[int]] = field(default_factory=dict)
    #: api -> the operations answered with a 2xx at least once
    exercised: dict[str, set[str]] = field(default_factory=dict)
    #: calls of the login operations, fuzzed ones included (a password hash each when the body
    #: is valid: the server's dearest request)
    logins: int = 0
    #: requests uvicorn refused before the app saw them (st's probe of a NULL byte in a header)
    refused: int = 0

    def merged(self, other: Counts) -> Counts:
        return Counts(
            {**copy.deepcopy(self.statuses), **copy.deepcopy(other.statuses)},
            {**copy.deepcopy(self.exercised), **copy.deepcopy(other.exercised)},
            self.logins + other.logins,
            self.refused + other.refused,
        )


class Tally:
    """The `Counts` of the run going on (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = Counts()

    def add(self, api: str, status: int, operation: str | None, login: bool) -> None:
        with self._lock:
            self._counts.statuses.setdefault(api, collections.Counter())[status] += 1
            if operation is not None and 200 <= status < 300:
                self._counts.exercised.setdefault(api, set()).add(operation)
            self._counts.logins += login

    def refuse(self) -> None:
        with self._lock:
            self._counts.refused += 1

    def reset(self) -> None:
        with self._lock:
            self._counts = Counts()

    def snapshot(self) -> Counts:
        with self._lock:
            return copy.deepcopy(self._counts)


class Refused(logging.Filter):
    """Counts in ``tally`` (and keeps off the terminal) the requests uvicorn refuses before the
    app sees them."""

    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self.tally = tally

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Invalid HTTP request"):
            self.tally.refuse()
            return False
        return True


@contextlib.contextmanager
def serving(
    tally: Tally, defects: tuple[str, ...] = (), lift_login: bool = False
) -> Iterator[reference.Running]:
    """Both APIs of a fresh reference backend (with ``defects`` on), every request counted in
    ``tally``. ``lift_login``: login's own limit lifted too, for st's re-login (the suite keeps
    within login's 5 a minute, and its rate_limits scenario fails a login limit that is not
    stricter than the rest, rightly)."""
    limits = dict(EMBEDDED_RATE_LIMITS)
    if lift_login:
        limits["operation:login"] = RateLimit(1_000_000, 60)
    settings = reference.Settings(rate_limits=limits, defects=frozenset(defects))
    with reference.running(settings=settings) as backends:
        routes = {api: Routes(backends.backend(api).spec) for api in BUNDLED_APIS}
        app_type = type(backends.backend(BUNDLED_APIS[0]).app)
        original = app_type.__call__

        async def counted(self: Any, scope: Message, receive: Receive, send: Send) -> None:
            if scope.get("type") != "http":
                await original(self, scope, receive, send)
                return
            api = str(self.api)
            operation = routes[api].operation(scope.get("method", ""), scope.get("path", ""))
            login = operation is not None and operation == routes[api].login

            async def send_counted(message: Message) -> None:
                if message["type"] == "http.response.start":
                    tally.add(api, int(message["status"]), operation, login)
                await send(message)

            await original(self, scope, receive, send_counted)

        log = logging.getLogger("uvicorn.error")
        refused = Refused(tally)
        log.addFilter(refused)
        try:
            with mock.patch.object(app_type, "__call__", counted):
                yield backends
        finally:
            log.removeFilter(refused)


@functools.cache
def operation_ids(api: str) -> tuple[str, ...]:
    return tuple(str(op.operation_id) for op in load_spec(bundled_spec(api)).operations)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass
class Ran:
    code: int
    seconds: float
    output: str
    server_cpu_s: float
    tool_cpu_s: float
    counts: Counts


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def stop(process: subprocess.Popen[str]) -> None:
    """End ``process`` and what it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_tool(
    name: str,
    argv: list[str],
    env: dict[str, str],
    timeout: float,
    log: Path,
    secrets: list[str],
    tally: Tally,
) -> Ran:
    """Run one tool to its end (or ``timeout``); its output, redacted, goes to ``log``."""
    tally.reset()
    server_before, tools_before = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    try:
        process = subprocess.Popen(
            argv, env=env, cwd=ROOT, text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
    except OSError as exc:
        raise BenchError(f"{name} could not be started ({argv[0]}: {exc.strerror})") from None
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        output, _ = process.communicate()
        log.write_text(redact(output, secrets))
        raise BenchError(
            f"{name} did not finish within {timeout:.0f} s (--timeout); its output is in"
            f" {shown(log)}"
        ) from None
    except BaseException:  # Ctrl-C: the tool runs in a session of its own, end it too
        stop(process)
        raise
    seconds = time.perf_counter() - began
    server_cpu_s = cpu(resource.RUSAGE_SELF) - server_before
    tool_cpu_s = cpu(resource.RUSAGE_CHILDREN) - tools_before
    output = redact(output, secrets)
    log.write_text(output)
    return Ran(process.returncode, seconds, output, server_cpu_s, tool_cpu_s, tally.snapshot())


def row(
    name: str,
    command: str,
    ran: Ran,
    result: str,
    findings: dict[str, Any],
    apis: tuple[str, ...] = BUNDLED_APIS,
) -> dict[str, Any]:
    counts = ran.counts
    total = collections.Counter[int]()
    for by_status in counts.statuses.values():
        total.update(by_status)
    requests = sum(total.values())
    classes = collections.Counter(f"{status // 100}xx" for status in total.elements())
    return {
        "tool": name,
        "command": command,
        "wall_s": round(ran.seconds, 2),
        "requests": requests,
        "requests_by_api": {api: sum(c.values()) for api, c in sorted(counts.statuses.items())},
        "statuses": dict(sorted(classes.items())),
        "status_401": total.get(401, 0),
        "status_429": total.get(429, 0),
        "operations_with_2xx": sum(map(len, counts.exercised.values())),
        "operations": sum(len(operation_ids(api)) for api in apis),
        "operations_without_2xx": {
            api: sorted(set(operation_ids(api)) - counts.exercised.get(api, set())) for api in apis
        },
        "login_calls": counts.logins,
        "refused_before_the_app": counts.refused,
        "requests_per_s": round(requests / ran.seconds, 1) if ran.seconds else 0.0,
        "server_cpu_s": round(ran.server_cpu_s, 2),
        "server_cpu_ms_per_request": round(ran.server_cpu_s * 1000 / requests, 3)
        if requests
        else None,
        "tool_cpu_s": round(ran.tool_cpu_s, 2),
        "exit_code": ran.code,
        "result": result,
        "findings": findings,
    }


# -- 1. the suite -------------------------------------------------------------------------------


def run_suite(
    args: argparse.Namespace,
    tally: Tally,
    *,
    name: str = "suite",
    apis: tuple[str, ...] = BUNDLED_APIS,
    defects: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    folder: str = "suite",
) -> dict[str, Any]:
    """``conformance run`` on ``apis`` of a fresh backend (``defects`` on), ``extra`` given to
    it (``-n 2``, ``--fail-fast``, ``-k …``); its row, its verdict under ``findings``."""
    reports = OUT / folder
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "verdict.json").unlink(missing_ok=True)
    log = OUT / f"{folder}.log"
    with serving(tally, defects) as backends:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
        argv = [sys.executable, "-m", "conformance", "run"]
        secrets = []
        for api in apis:
            service = backends.backend(api).credentials["service"]
            env[f"CONFORMANCE_{api.upper()}_USERNAME"] = service.email
            env[f"CONFORMANCE_{api.upper()}_PASSWORD"] = service.password
            secrets.append(service.password)
            argv += ["--target", f"{api}={backends.url(api)}"]
        argv += ["--profile", args.profile, "--seed", str(args.seed), "--reports", str(reports)]
        argv += ["--no-html-report", *extra]
        print(f"{name}: running (output in {shown(log)})", flush=True)
        ran = run_tool("conformance run", argv, env, args.timeout, log, secrets, tally)
    if ran.code not in (0, 1):
        last = (ran.output.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"conformance run exited {ran.code} ({last.strip()})")
    try:
        verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BenchError(
            f"conformance run wrote no readable {shown(reports / 'verdict.json')}; see {shown(log)}"
        ) from None
    counts = verdict["counts"]
    result = (
        f"{verdict['verdict']}: {counts['passed']} passed, {counts['failed']} failed,"
        f" {counts['not_exercised']} not exercised, {counts['error']} error"
        f" of {counts['operations']} operations"
    )
    if counts["by_rule"]:
        result += "; " + ", ".join(f"{rule} {n}" for rule, n in counts["by_rule"].items())
    findings = {
        "verdict": verdict["verdict"],
        "counts": counts,
        "not_exercised": verdict["not_exercised"],
        "failed": [
            {"operation": op["label"], "checks": sorted({f["check"] for f in op["failures"]})}
            for op in verdict["operations"]
            if op["outcome"] == "failed"
        ],
    }
    command = (
        "conformance run " + " ".join(f"--target {api}=URL" for api in apis)
        + f" --profile {args.profile} --seed {args.seed} --reports {shown(reports)}"
        + "".join(f" {arg}" for arg in extra)
    )  # fmt: skip
    print(f"{name}: {ran.seconds:.1f} s, {result}", flush=True)
    return row(name, command, ran, result, findings, apis)


# -- 2. st run ----------------------------------------------------------------------------------


def engine_dict(api: str, url: str, profile: str, seed: int) -> dict[str, Any]:
    """What the suite's engine is configured with for ``api`` (its first pass), as a dict."""
    spec = load_spec(bundled_spec(api))
    operations = [str(op.operation_id) for op in spec.operations]
    infer = not link_sources(spec, operations)  # as run_engine decides
    return copy.deepcopy(engine_settings(url, {}, profile, seed, infer_links=infer))


def _key(pointer: str) -> str:
    parts = pointer.split("/")[1:]
    if len(parts) != 1 or not parts[0]:
        raise BenchError(
            f"the login body pointer {pointer} is nested; st's dynamic auth sends a flat body"
        )
    return parts[0]


def st_config(api: str, url: str, profile: str, seed: int, auth: str) -> dict[str, Any]:
    data = engine_dict(api, url, profile, seed)
    if auth == "token":
        data["headers"] = {**data.get("headers", {}), "Authorization": f"Bearer ${{{TOKEN_VAR}}}"}
        return data
    spec = load_spec(bundled_spec(api))
    flow = spec.declarations.auth_flow
    login = spec.operation(flow.login.operation_id) if flow is not None else None
    if flow is None or login is None or not flow.login.access_token:
        raise BenchError(f"the {api} spec declares no x-auth-flow login for st to log in with")
    data["auth"] = {
        "dynamic": {
            "openapi": {
                flow.scheme: {
                    "path": login.path,
                    "method": login.method,
                    "payload": {
                        _key(flow.login.username): f"${{{USERNAME_VAR}}}",
                        _key(flow.login.password): f"${{{PASSWORD_VAR}}}",
                    },
                    "extract_selector": flow.login.access_token,
                    "retry_on": [401],
                }
            }
        }
    }
    return data


ST_FINAL = re.compile(r"^=+ (.+?) =+$")
ST_GROUP = re.compile(r"^\s*❌ (\S+) (.+): (\d+)$")
ST_WARNING = re.compile(r"^\s*⚠️ (.+)$")


def st_findings(output: str) -> dict[str, Any]:
    """What ``st run`` printed: the counts on its final line, its failure groups, re-logins."""
    lines = output.splitlines()
    final = next((m.group(1) for line in reversed(lines) if (m := ST_FINAL.match(line))), "")

    def count(word: str, text: str) -> int:
        found = re.search(rf"(\d+) {word}s?\b", text)
        return int(found.group(1)) if found else 0

    generated = re.search(r"(\d+) generated", output)
    reauth = re.search(r"Re-authenticated (\d+) times?", output)
    return {
        "final_line": final,
        "failures": count("failure", final),
        "errors": count("error", final),
        "warnings": count("warning", final),
        "groups": {
            f"{m.group(1)} {m.group(2)}": int(m.group(3))
            for line in lines
            if (m := ST_GROUP.match(line))
        },
        "warning_lines": [m.group(1) for line in lines if (m := ST_WARNING.match(line))],
        "test_cases": int(generated.group(1)) if generated else None,
        "reauthenticated": int(reauth.group(1)) if reauth else 0,
    }


def run_st(
    args: argparse.Namespace,
    tally: Tally,
    auth: str,
    *,
    apis: tuple[str, ...] = BUNDLED_APIS,
    defects: tuple[str, ...] = (),
) -> dict[str, Any]:
    name = ST_AUTH[auth] + (f" [{', '.join(defects)}]" if defects else "")
    suffix = "".join(f"-{defect}" for defect in defects)
    st = BIN / "st"
    if not st.exists():
        raise BenchError(f"no st next to {sys.executable}; install the lock (make install)")
    runs: list[Ran] = []
    per_api: dict[str, Any] = {}
    with serving(tally, defects, lift_login=True) as backends:
        for api in apis:
            url = backends.url(api)
            service = backends.backend(api).credentials["service"]
            env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
            env["SCHEMATHESIS_HOOKS"] = "conformance.checks"
            secrets = [service.password]
            if auth == "token":
                spec = load_spec(bundled_spec(api))
                credentials = Credentials(api, None, service.email, service.password)
                token = sign_in(spec, url, credentials).access_token  # not counted: reset below
                env[TOKEN_VAR] = token
                secrets.append(token)
            else:
                env[USERNAME_VAR], env[PASSWORD_VAR] = service.email, service.password
            config = st_config(api, url, args.profile, args.seed, auth)
            text = tomlkit.dumps(config)
            if tomllib.loads(text) != config:
                raise BenchError(f"the schemathesis.toml written for {api} does not read back")
            path = OUT / f"st-{auth}-{api}.toml"
            path.write_text(text)
            argv = [
                str(st), "--config-file", str(path), "run", str(bundled_spec(api)),
                "--url", url, "--checks", "all", "--no-color",
            ]  # fmt: skip
            log = OUT / f"st-{auth}-{api}{suffix}.log"
            print(f"{name}: running on {api} (output in {shown(log)})", flush=True)
            ran = run_tool(f"st run ({api})", argv, env, args.timeout, log, secrets, tally)
            found = st_findings(ran.output)
            if ran.code not in (0, 1) or not found["final_line"]:
                last = (ran.output.strip().splitlines() or ["no output"])[-1]
                raise BenchError(
                    f"st run on {api} exited {ran.code} ({last.strip()}); see {shown(log)}"
                )
            per_api[api] = {"exit_code": ran.code, **found}
            runs.append(ran)
    counts = Counts()
    for ran in runs:
        counts = counts.merged(ran.counts)
    combined = Ran(
        code=max(ran.code for ran in runs),
        seconds=sum(ran.seconds for ran in runs),
        output="",
        server_cpu_s=sum(ran.server_cpu_s for ran in runs),
        tool_cpu_s=sum(ran.tool_cpu_s for ran in runs),
        counts=counts,
    )
    failures = sum(found["failures"] for found in per_api.values())
    errors = sum(found["errors"] for found in per_api.values())
    warnings = sum(found["warnings"] for found in per_api.values())
    groups: collections.Counter[str] = collections.Counter()
    for found in per_api.values():
        groups.update(found["groups"])
    result = f"exit {combined.code}: {failures} failures, {errors} errors, {warnings} warnings"
    result += " (" + ", ".join(f"{api} {f['failures']}" for api, f in per_api.items()) + ")"
    if groups:
        result += "; " + ", ".join(f"{group} {n}" for group, n in sorted(groups.items()))
    command = (
        f"SCHEMATHESIS_HOOKS=conformance.checks st --config-file {shown(OUT)}/st-{auth}-API.toml"
        " run specs/API.openapi.yaml --url URL --checks all --no-color"
    )
    print(f"{name}: {combined.seconds:.1f} s, {result}", flush=True)
    findings = {"per_api": per_api, "groups": dict(groups)}
    return row(name, command, combined, result, findings, apis)


# -- 3. a plain client --------------------------------------------------------------------------


def plain_client(url: str, seconds: float) -> int:
    """(In a process of its own) GET ``url`` in a loop for ``seconds``; a JSON line of counts."""
    headers = {"Authorization": f"Bearer {os.environ[TOKEN_VAR]}"}
    requests = errors = 0
    with httpx.Client(headers=headers, timeout=30) as client:
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            errors += client.get(url).status_code != 200
            requests += 1
        elapsed = time.perf_counter() - began
    print(json.dumps({"requests": requests, "seconds": elapsed, "errors": errors}))
    return 0


def run_plain(args: argparse.Namespace, tally: Tally) -> dict[str, Any]:
    with serving(tally) as backends:
        url = backends.url("gloria")
        service = backends.backend("gloria").credentials["service"]
        spec = load_spec(bundled_spec("gloria"))
        token = sign_in(spec, url, Credentials("gloria", None, service.email, service.password))
        listed = httpx.get(
            f"{url}/schools?limit=1",
            headers={"Authorization": f"Bearer {token.access_token}"},
            timeout=30,
        )
        try:
            items = listed.json()["data"]
            school = (items if isinstance(items, list) else items["data"])[0]["id"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise BenchError(
                f"GET /schools answered {listed.status_code} without a school"
            ) from None
        env = {**os.environ, TOKEN_VAR: token.access_token}
        argv = [
            sys.executable, str(Path(__file__).resolve()),
            "--plain-client", f"{url}/schools/{school}", "--plain-seconds", str(args.plain_seconds),
        ]  # fmt: skip
        log = OUT / "plain.log"
        print(f"plain httpx: GET /schools/{{id}} for {args.plain_seconds:g} s", flush=True)
        ran = run_tool(
            "the plain client", argv, env, args.timeout, log, [token.access_token], tally
        )
    try:
        counted = json.loads(ran.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"the plain client printed no counts; see {shown(log)}") from None
    if ran.code != 0:
        raise BenchError(f"the plain client exited {ran.code}; see {shown(log)}")
    ran.seconds = float(counted["seconds"])  # the loop's own time, not the interpreter's start
    result = f"{counted['requests']} sent, {counted['errors']} not 200"
    return row("plain httpx", "httpx.Client().get(/schools/{id}) loop", ran, result, counted)


# -- the table ----------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def ratios(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    by_tool = {r["tool"]: r for r in rows}
    suite = by_tool["suite"]
    found: dict[str, float | None] = {}
    for name in ST_AUTH.values():
        if name in by_tool:
            st = by_tool[name]
            found[f"suite / {name} wall time"] = ratio(suite["wall_s"], st["wall_s"])
            found[f"suite / {name} requests/s"] = ratio(
                suite["requests_per_s"], st["requests_per_s"]
            )
    if "plain httpx" in by_tool:
        plain = by_tool["plain httpx"]["requests_per_s"]
        for r in rows:
            if r["tool"] != "plain httpx":
                found[f"{r['tool']} requests/s / plain requests/s"] = ratio(
                    r["requests_per_s"], plain
                )
    return found


def print_table(rows: list[dict[str, Any]], found: dict[str, float | None]) -> None:
    print()
    print(
        f"{'tool':<14} {'wall s':>7} {'requests':>9} {'req/s':>7} {'2xx':>6} {'401':>6} {'5xx':>4}"
        f" {'ops 2xx':>7} {'logins':>6} {'refused':>7} {'srv ms/req':>10} {'tool CPU s':>10}"
    )
    for r in rows:
        statuses = r["statuses"]
        print(
            f"{r['tool']:<14} {r['wall_s']:>7.1f} {r['requests']:>9} {r['requests_per_s']:>7.1f}"
            f" {statuses.get('2xx', 0):>6} {r['status_401']:>6} {statuses.get('5xx', 0):>4}"
            f" {r['operations_with_2xx']:>3}/{r['operations']:<3} {r['login_calls']:>6}"
            f" {r['refused_before_the_app']:>7} {r['server_cpu_ms_per_request'] or 0:>10.3f}"
            f" {r['tool_cpu_s']:>10.1f}"
        )
    print(
        "(requests, statuses, ops 2xx (operations answered with a 2xx at least once), logins"
        " (calls of the login operations) and refused (by uvicorn, before the app) are counted"
        " at the server)"
    )
    print()
    for r in rows:
        print(f"{r['tool']:<14} {r['result']}")
        for api, printed in r["findings"].get("per_api", {}).items():
            for line in printed["warning_lines"]:
                print(f"{'':<14}   {api}: warning: {line}")
    print()
    width = max(map(len, found), default=0)
    for name, value in found.items():
        print(f"{name:<{width}}  {'n/a' if value is None else f'{value:.2f}'}")


# -- 4. findings on defective backends, workers, scaling, fail fast ------------------------------

#: defects the two tools are compared on: a response schema, a 5xx, a leak in a body, a missing
#: 401, a lost update (stateful) and a slow operation (a latency budget)
COMPARED_DEFECTS = (
    "wrong-type", "server-error-on-long-search", "stack-trace-in-error", "auth-not-enforced",
    "stale-version-accepted", "slow-operation",
)  # fmt: skip
#: the lever's before and after: a defect caught by fuzzing, one caught by a scenario
FAIL_FAST_DEFECTS = ("nosniff-missing", "logout-not-revoking")
#: operations of gloria in the scaling runs (fuzzing only; the last: all of them)
SCALING = (10, 20, 40, None)


def defect_api(name: str) -> str:
    found = [defect.api for defect in reference.DEFECTS if defect.name == name]
    if not found:
        known = ", ".join(defect.name for defect in reference.DEFECTS)
        raise BenchError(f"no defect is called {name!r}; known: {known}")
    return found[0]


def suite_caught(found: dict[str, Any], clean: set[str]) -> dict[str, Any]:
    """The suite's finding: a failed verdict with a rule the clean backend's run did not break."""
    failed = found["findings"]
    return {
        "caught": failed["verdict"] == "fail" and bool(set(failed["counts"]["by_rule"]) - clean),
        "rules": sorted(failed["counts"]["by_rule"]),
        "operations": [entry["operation"] for entry in failed["failed"]],
        "wall_s": found["wall_s"],
        "requests": found["requests"],
    }


def st_caught(found: dict[str, Any], clean: dict[str, int]) -> dict[str, Any]:
    """st's finding: more failures on the API than it reports on the clean backend."""
    per_api = found["findings"]["per_api"]
    failures = {api: entry["failures"] for api, entry in per_api.items()}
    return {
        "caught": any(n > clean.get(api, 0) for api, n in failures.items()),
        "failures": failures,
        "failures_on_clean": {api: clean.get(api, 0) for api in failures},
        "groups": found["findings"]["groups"],
        "wall_s": found["wall_s"],
        "requests": found["requests"],
    }


def compare_defects(
    args: argparse.Namespace, tally: Tally, suite_clean: set[str], st_clean: dict[str, int]
) -> list[dict[str, Any]]:
    """Each defect: the suite's gate and ``st run`` (re-login) on its API, what each found."""
    found = []
    for name in args.defects:
        api = defect_api(name)
        suite = run_suite(
            args,
            tally,
            name=f"suite [{name}]",
            apis=(api,),
            defects=(name,),
            folder=f"defect-{name}",
        )
        st = run_st(args, tally, "relogin", apis=(api,), defects=(name,))
        found.append(
            {
                "defect": name,
                "api": api,
                "suite": suite_caught(suite, suite_clean),
                "st": st_caught(st, st_clean),
            }
        )
    return found


def compare_workers(
    args: argparse.Namespace, tally: Tally, parallel: dict[str, Any]
) -> dict[str, Any]:
    """The default run (an API an xdist worker, ``-n 2`` on 2 CPUs or more) against the same
    run serial (``-n 0``)."""
    serial = run_suite(args, tally, name="suite -n 0", extra=("-n", "0"), folder="suite-n0")
    return {
        "serial": {
            "wall_s": serial["wall_s"],
            "requests": serial["requests"],
            "verdict": serial["findings"]["verdict"],
        },
        "n2": {
            "wall_s": parallel["wall_s"],
            "requests": parallel["requests"],
            "verdict": parallel["findings"]["verdict"],
        },
        "n2_over_serial_wall": ratio(parallel["wall_s"], serial["wall_s"]),
    }


def scaling(args: argparse.Namespace, tally: Tally) -> list[dict[str, Any]]:
    """The fuzzing of gloria's first N operations (spec order): wall time against N."""
    everything = operation_ids("gloria")
    found = []
    for size in SCALING:
        chosen = everything[:size] if size else everything
        # -k matches substrings: the verdict says how many operations were fuzzed
        extra = ("-m", "fuzz") + (("-k", " or ".join(chosen)) if size else ())
        ran = run_suite(
            args,
            tally,
            name=f"suite gloria {size or 'all'} ops",
            apis=("gloria",),
            extra=extra,
            folder=f"scaling-{size or 'all'}",
        )
        operations = ran["findings"]["counts"]["operations"]
        found.append(
            {
                "operations": operations,
                "wall_s": ran["wall_s"],
                "requests": ran["requests"],
                "seconds_per_operation": round(ran["wall_s"] / operations, 2)
                if operations
                else None,
            }
        )
    return found


def fail_fast(args: argparse.Namespace, tally: Tally) -> list[dict[str, Any]]:
    """The lever: a defective backend's run to its end, then stopped at its first failure."""
    found = []
    for name in FAIL_FAST_DEFECTS:
        api = defect_api(name)
        runs = {
            mode: run_suite(
                args,
                tally,
                name=f"suite [{name}] {mode}",
                apis=(api,),
                defects=(name,),
                extra=("--fail-fast",) if mode == "fail-fast" else (),
                folder=f"lever-{name}-{mode}",
            )
            for mode in ("thorough", "fail-fast")
        }
        found.append(
            {
                "defect": name,
                "api": api,
                **{
                    mode: {
                        "wall_s": r["wall_s"],
                        "requests": r["requests"],
                        "verdict": r["findings"]["verdict"],
                        "rules": sorted(r["findings"]["counts"]["by_rule"]),
                    }
                    for mode, r in runs.items()
                },
                "fail_fast_over_thorough_wall": ratio(
                    runs["fail-fast"]["wall_s"], runs["thorough"]["wall_s"]
                ),
            }
        )
    return found


SECTIONS = ("compare", "defects", "workers", "scaling", "fail-fast")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="the seed of every run (default 1)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="gate")
    parser.add_argument(
        "--st-auth",
        choices=["token", "relogin", "both"],
        default="both",
        help="how st run authenticates: one token as a header, logging in again on 401, or both",
    )
    parser.add_argument(
        "--plain-seconds", type=float, default=5.0, help="the plain httpx loop (0: leave it out)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per tool process")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        default=None,
        help="run only these parts (repeatable; default: all; compare is always run)",
    )
    parser.add_argument(
        "--defect",
        dest="defects",
        action="append",
        default=None,
        metavar="NAME",
        help="a defect to compare the findings on (repeatable; default:"
        f" {', '.join(COMPARED_DEFECTS)})",
    )
    parser.add_argument("--plain-client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_client:
        return plain_client(args.plain_client, args.plain_seconds)
    args.defects = tuple(args.defects or COMPARED_DEFECTS)
    wanted = set(args.only or SECTIONS) | {"compare"}
    OUT.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    load = os.getloadavg()[0]
    began = time.perf_counter()
    extra: dict[str, Any] = {}
    try:
        rows = [run_suite(args, tally)]
        for auth in ("token", "relogin"):
            if args.st_auth in (auth, "both"):
                rows.append(run_st(args, tally, auth))
        if args.plain_seconds > 0:
            rows.append(run_plain(args, tally))
        relogin = next((r for r in rows if r["tool"] == ST_AUTH["relogin"]), None)
        st_clean = (
            {api: entry["failures"] for api, entry in relogin["findings"]["per_api"].items()}
            if relogin
            else {}
        )
        if "defects" in wanted:
            suite_clean = set(rows[0]["findings"]["counts"]["by_rule"])
            extra["defects"] = compare_defects(args, tally, suite_clean, st_clean)
        if "workers" in wanted:
            extra["workers"] = compare_workers(args, tally, rows[0])
        if "scaling" in wanted:
            extra["scaling"] = scaling(args, tally)
        if "fail-fast" in wanted:
            extra["fail_fast"] = fail_fast(args, tally)
    except BenchError as error:
        print(f"suite_vs_st: {error}", file=sys.stderr)
        return 1
    found = {**ratios(rows), **more_ratios(extra)}
    print_table(rows, found)
    print_more(extra)
    report = {
        "seed": args.seed,
        "profile": args.profile,
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(load, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "seconds": round(time.perf_counter() - began, 1),
        "rows": rows,
        **extra,
        "ratios": found,
    }
    out = ROOT / "reports" / "bench-suite.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {shown(out)}")
    combined = ROOT / "reports" / "bench.json"
    combined.write_text(json.dumps(combine(report), indent=2) + "\n")
    print(
        "the ratios, with the reference backend's load (bench/reference_load.py), in"
        f" {shown(combined)}"
    )
    return 0


def more_ratios(extra: dict[str, Any]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    if "workers" in extra:
        found["suite -n 2 (default) / serial wall time"] = extra["workers"]["n2_over_serial_wall"]
    scaled = extra.get("scaling") or []
    if len(scaled) >= 2:
        first, last = scaled[0], scaled[-1]
        found[f"wall time {last['operations']} ops / {first['operations']} ops"] = ratio(
            last["wall_s"], first["wall_s"]
        )
        found[f"operations {last['operations']} / {first['operations']}"] = ratio(
            last["operations"], first["operations"]
        )
    for entry in extra.get("fail_fast", []):
        found[f"fail fast / to the end wall time [{entry['defect']}]"] = entry[
            "fail_fast_over_thorough_wall"
        ]
    defects = extra.get("defects") or []
    if defects:
        found["defects caught by the suite / compared"] = ratio(
            sum(d["suite"]["caught"] for d in defects), len(defects)
        )
        found["defects caught by st run / compared"] = (
            ratio(sum(d["st"]["caught"] for d in defects), len(defects)) or 0.0
        )
    return found


def print_more(extra: dict[str, Any]) -> None:
    if extra.get("defects"):
        print(f"\n{'defect':<28} {'suite':<8} {'st run':<8} suite rules | st groups")
        for d in extra["defects"]:
            suite, st = d["suite"], d["st"]
            print(
                f"{d['defect']:<28} {'caught' if suite['caught'] else 'MISSED':<8}"
                f" {'caught' if st['caught'] else 'missed':<8} {', '.join(suite['rules']) or '-'}"
                f" | {', '.join(st['groups']) or '-'}"
            )
    if extra.get("scaling"):
        print(f"\n{'operations':>10} {'wall s':>7} {'requests':>9} {'s/op':>6}")
        for entry in extra["scaling"]:
            print(
                f"{entry['operations']:>10} {entry['wall_s']:>7.1f} {entry['requests']:>9}"
                f" {entry['seconds_per_operation'] or 0:>6.2f}"
            )
    for entry in extra.get("fail_fast", []):
        print(
            f"\nfail fast [{entry['defect']}]: {entry['thorough']['wall_s']:.1f} s to the end,"
            f" {entry['fail-fast']['wall_s']:.1f} s to the first failure"
        )
    print()


def combine(report: dict[str, Any]) -> dict[str, Any]:
    """reports/bench.json: the ratios of this run, with the reference backend's own load when
    bench/reference_load.py wrote it (``make bench`` runs it first)."""
    combined: dict[str, Any] = {
        "seed": report["seed"],
        "profile": report["profile"],
        "cpus": report["cpus"],
        "ratios": dict(report["ratios"]),
        "suite_vs_st": {
            r["tool"]: {
                k: r[k]
                for k in (
                    "wall_s",
                    "requests",
                    "requests_per_s",
                    "operations_with_2xx",
                    "operations",
                    "tool_cpu_s",
                    "server_cpu_s",
                    "result",
                )
            }
            for r in report["rows"]
        },
        **{
            key: report[key]
            for key in ("defects", "workers", "scaling", "fail_fast")
            if key in report
        },
        "details": "reports/bench-suite.json",
    }
    loaded = ROOT / "reports" / "bench-reference.json"
    try:
        server = json.loads(loaded.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return combined
    combined["reference"] = server
    reads = next((r for r in server.get("results", []) if r["scenario"] == "read one school"), None)
    suite = report["rows"][0]
    if reads:
        combined["ratios"]["suite requests/s / the server's read requests/s at 8 clients"] = ratio(
            suite["requests_per_s"], reads["requests_per_s"]
        )
    return combined


if __name__ == "__main__":
    sys.exit(main())

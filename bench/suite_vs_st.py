"""The suite against schemathesis's own CLI, side by side: wall time, requests, findings.

One after the other, each on a fresh embedded reference backend (both APIs, served in this
process, the ``service`` principal's and login's rate limits lifted as ``conformance run`` lifts
them for its own backend, so that the policy does not throttle):

1. ``suite``: ``conformance run --target gloria=URL --target tchat=URL --profile P --seed S``
   (schemathesis's engine once per API, the contract's checks, the focused stateful passes for
   what the first pass left unanswered, the verdict), logging in as ``service``
   (``CONFORMANCE_<API>_USERNAME`` / ``_PASSWORD``) and again after a 401;
2. ``st run`` on each bundled spec with the same checks (``SCHEMATHESIS_HOOKS=conformance.checks
   st run SPEC --url URL --checks all``) and a generated ``schemathesis.toml`` (``--config-file``)
   holding exactly what ``engine_config`` gives the engine for that profile, seed and choice of
   link inference (the dict is captured from it), authenticated as the same ``service``:

   - ``st (token)``: one access token from a login, sent as the ``Authorization`` header (the
     fuzzed logout revokes it, and the rest of the run gets 401s);
   - ``st (re-login)``: schemathesis's dynamic auth (``[auth.dynamic.openapi]``), logging in
     through the spec's ``x-auth-flow`` login again after a 401, as the suite does;

3. ``plain httpx``: a ``httpx.Client`` loop of ``GET /schools/{id}`` (gloria) for
   ``--plain-seconds`` in a process of its own: the rate a client gets without a harness.

Requests are counted at the server, not from the tools' own reports: every answer the reference
app sends, per API, status and operation (so also the operations answered with a 2xx at least
once, and the calls of the login operations); the requests uvicorn refuses before the app (st's
probe of a NULL byte in a header) are counted apart. Server CPU is this process's, tool CPU its
children's. Wall time is
from start to exit of the tool's processes (interpreter start-up included). Prints a table and
the ratios, writes ``reports/bench-suite.json``; the tools' output and the generated configs go
to ``reports/bench-suite/``, credentials masked (they travel in environment variables only).

    .venv/bin/python bench/suite_vs_st.py [--seed 1] [--profile gate] [--st-auth both]
        [--plain-seconds 5] [--timeout 600]
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

from conformance import reference
from conformance.contract import BUNDLED_APIS, RateLimit, Spec, bundled_spec, load_spec
from conformance.runner import EMBEDDED_RATE_LIMITS
from conformance.suite import PROFILES, Credentials
from conformance.suite import _engine as suite_engine
from conformance.suite._auth import sign_in

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
def serving(tally: Tally) -> Iterator[reference.Running]:
    """Both APIs of a fresh reference backend, every request counted in ``tally``."""
    # login lifted too (the suite alone keeps within login's 5 a minute, st's re-login does not)
    limits = {**EMBEDDED_RATE_LIMITS, "operation:login": RateLimit(1_000_000, 60)}
    settings = reference.Settings(rate_limits=limits)
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


def row(name: str, command: str, ran: Ran, result: str, findings: dict[str, Any]) -> dict[str, Any]:
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
        "operations": sum(len(operation_ids(api)) for api in BUNDLED_APIS),
        "operations_without_2xx": {
            api: sorted(set(operation_ids(api)) - counts.exercised.get(api, set()))
            for api in BUNDLED_APIS
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


def run_suite(args: argparse.Namespace, tally: Tally) -> dict[str, Any]:
    reports = OUT / "suite"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "verdict.json").unlink(missing_ok=True)
    with serving(tally) as backends:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
        argv = [sys.executable, "-m", "conformance", "run"]
        secrets = []
        for api in BUNDLED_APIS:
            service = backends.backend(api).credentials["service"]
            env[f"CONFORMANCE_{api.upper()}_USERNAME"] = service.email
            env[f"CONFORMANCE_{api.upper()}_PASSWORD"] = service.password
            secrets.append(service.password)
            argv += ["--target", f"{api}={backends.url(api)}"]
        argv += ["--profile", args.profile, "--seed", str(args.seed), "--reports", str(reports)]
        print(f"suite: running (output in {shown(OUT / 'suite.log')})", flush=True)
        ran = run_tool(
            "conformance run", argv, env, args.timeout, OUT / "suite.log", secrets, tally
        )
    if ran.code not in (0, 1):
        last = (ran.output.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"conformance run exited {ran.code} ({last.strip()})")
    try:
        verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BenchError(
            f"conformance run wrote no readable {shown(reports / 'verdict.json')}; see"
            f" {shown(OUT / 'suite.log')}"
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
        f"conformance run --target gloria=URL --target tchat=URL --profile {args.profile}"
        f" --seed {args.seed} --reports {shown(reports)}"
    )
    print(f"suite: {ran.seconds:.1f} s, {result}", flush=True)
    return row("suite", command, ran, result, findings)


# -- 2. st run ----------------------------------------------------------------------------------


class _Captured:
    """Stands in for SchemathesisConfig while ``engine_config`` runs: the dict it is built from."""

    @staticmethod
    def from_dict(data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return data


def engine_dict(api: str, url: str, profile: str, seed: int) -> dict[str, Any]:
    """What the suite's engine is configured with for ``api`` (its first pass), as a dict."""
    spec = load_spec(bundled_spec(api))
    operations = [str(op.operation_id) for op in spec.operations]
    infer = not suite_engine.link_sources(spec, operations)  # as run_engine decides
    with mock.patch.object(suite_engine, "SchemathesisConfig", _Captured):
        data: Any = suite_engine.engine_config(url, {}, profile, seed, infer_links=infer)
    if not isinstance(data, dict):
        raise BenchError(
            "engine_config no longer builds its configuration with SchemathesisConfig.from_dict;"
            " update engine_dict in bench/suite_vs_st.py"
        )
    return copy.deepcopy(data)


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


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise BenchError(f"cannot write {type(value).__name__} values to schemathesis.toml")


def to_toml(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """``data`` as TOML: its scalars, then a table for each nested dict."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(to_toml(value, (*prefix, key)))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    if prefix and (lines or not data):  # a table with nothing but tables needs no header
        lines.insert(0, f"[{'.'.join(map(_toml_key, prefix))}]")
    return "\n".join(filter(None, ["\n".join(lines), *tables]))


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


def run_st(args: argparse.Namespace, tally: Tally, auth: str) -> dict[str, Any]:
    name = ST_AUTH[auth]
    st = BIN / "st"
    if not st.exists():
        raise BenchError(f"no st next to {sys.executable}; install the lock (make install)")
    runs: list[Ran] = []
    per_api: dict[str, Any] = {}
    with serving(tally) as backends:
        for api in BUNDLED_APIS:
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
            text = to_toml(config) + "\n"
            if tomllib.loads(text) != config:
                raise BenchError(f"the schemathesis.toml written for {api} does not read back")
            path = OUT / f"st-{auth}-{api}.toml"
            path.write_text(text)
            argv = [
                str(st), "--config-file", str(path), "run", str(bundled_spec(api)),
                "--url", url, "--checks", "all", "--no-color",
            ]  # fmt: skip
            log = OUT / f"st-{auth}-{api}.log"
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
    return row(name, command, combined, result, {"per_api": per_api, "groups": dict(groups)})


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
    parser.add_argument("--plain-client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_client:
        return plain_client(args.plain_client, args.plain_seconds)
    OUT.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    load = os.getloadavg()[0]
    try:
        rows = [run_suite(args, tally)]
        for auth in ("token", "relogin"):
            if args.st_auth in (auth, "both"):
                rows.append(run_st(args, tally, auth))
        if args.plain_seconds > 0:
            rows.append(run_plain(args, tally))
    except BenchError as error:
        print(f"suite_vs_st: {error}", file=sys.stderr)
        return 1
    found = ratios(rows)
    print_table(rows, found)
    report = {
        "seed": args.seed,
        "profile": args.profile,
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(load, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "rows": rows,
        "ratios": found,
    }
    out = ROOT / "reports" / "bench-suite.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {shown(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

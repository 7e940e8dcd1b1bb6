"""A run's settings: ``conformance.toml``, then the environment, then flags (each overriding the
one before). ``conformance.example.toml`` at the repository's root is the commented reference.

Credentials never come from this file or from flags: from the environment
(``CONFORMANCE_<API>_USERNAME`` / ``_PASSWORD`` / ``_TOKEN`` / ``_TOKEN_PREFIX`` / ``_CLIENT_ID``
/ ``_CLIENT_SECRET``, and ``CONFORMANCE_<API>_<PRINCIPAL>_…`` for named principals) or from the
file named by ``credentials`` (TOML, a table per API, a sub-table per named principal), which
the environment overrides (`credentials`). Names of things are not secrets: how the run logs in
(``[targets.<API>.login]``: the operation, its fields, where the token is) and an apiKey's
prefix belong here. A bad setting is a `ConfigError` naming the key and the fix (exit 3).

Each setting of a run is declared once, on its `Settings` field (`option`: its ``[run]`` key,
environment variable, flag, kind and help); `RUN_OPTIONS` lists them for everything that reads
settings: this loader (the file's keys, the environment), ``conformance run``'s flags, the
plugin's ``--conformance-`` options and the arguments the runner hands to pytest. A target's URL
also comes from ``CONFORMANCE_TARGET_<API>``; `resolve_targets` is the one reading of targets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import os
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from conformance.errors import ConfigError, UsageError

_T = TypeVar("_T")

#: the file a run reads when it is there and no other is named
DEFAULT_FILE = Path("conformance.toml")
PROFILES = ("smoke", "gate", "deep")
#: a target is shared (the default: only what the run made is changed, operations that look as
#: if they reset or wipe data are left out) or disposable (an ephemeral CI database: writes go
#: anywhere, those operations are fuzzed too)
ENVIRONMENTS = ("shared", "disposable")
#: keys a target's table may hold (``login`` is a table of `LOGIN_KEYS`)
TARGET_KEYS = ("url", "spec", "overlay", "scheme", "token_prefix", "login")
#: keys of ``[targets.<API>.login]``: names of fields and operations, never values
LOGIN_KEYS = ("operation", "username_field", "password_field", "token_pointer", "cookie", "scheme")
#: what must never be written into conformance.toml (it is checked in): a key that is not one
#: of the settings above and contains one of these holds a credential's value
SECRET_KEYS = ("password", "token", "username", "secret", "api_key")


@dataclass(frozen=True)
class LoginSettings:
    """How the run logs in where the spec declares no ``x-auth-flow``: the login operation, the
    request body's fields for the account's username and password, and where the answer holds
    the token (a JSON pointer) or the session cookie it sets. Names, never values."""

    #: its operationId, or ``METHOD /path`` as the spec writes the path
    operation: str
    username_field: str = "/username"
    password_field: str = "/password"
    #: where the token is in the answer; None: the session cookie (`cookie`)
    token_pointer: str | None = None
    #: the session cookie the login sets; None: the cookie scheme's name, if the token is none
    cookie: str | None = None
    #: the security scheme the token (or cookie) is presented with; None: the spec's
    scheme: str | None = None


@dataclass(frozen=True)
class TargetSettings:
    name: str
    #: None: the table only describes the API (its spec, login …); the URL comes from
    #: ``CONFORMANCE_TARGET_<API>`` or ``--target API=URL``
    url: str | None
    #: the spec file; None: the bundled spec of that name
    spec: Path | None = None
    #: the security scheme the run's credentials are for; None: chosen from the spec
    scheme: str | None = None
    #: what an apiKey header's value starts with (``Token``), which OpenAPI cannot state
    token_prefix: str | None = None
    login: LoginSettings | None = None
    #: an OpenAPI Overlay file applied to the spec before anything reads it
    overlay: Path | None = None


class ResolvedTarget(NamedTuple):
    """A target of the run as `resolve_targets` resolved it."""

    url: str
    spec: Path
    #: the OpenAPI Overlay applied to ``spec`` (its contract's ``x-`` declarations), if any
    overlay: Path | None = None

    @property
    def overlays(self) -> tuple[Path, ...]:
        """What `contract.load_spec` takes."""
        return () if self.overlay is None else (self.overlay,)


#: how a flag's text becomes a value, by kind (argparse's ``type``; the plugin's parser is argparse)
_FLAG_TYPES: dict[str, Any] = {"seed": int, "seconds": float, "path": Path, "file": Path}


@dataclass(frozen=True, slots=True)
class Option:
    """One setting of ``conformance run``, declared once (`option`, on its `Settings` field) and
    read by everything that takes settings: the ``[run]`` table of conformance.toml, the
    environment, ``conformance run``'s flag, the plugin's ``--conformance-`` option, and the
    runner, which hands the resolved value to pytest (so to every xdist worker) by that option."""

    #: the `Settings` field, and the ``[run]`` key when `in_file`
    key: str
    #: how a value is read and checked (`_setting`, `_value`): profile, seed, seconds, bool, url,
    #: path (any), file (one that exists), text, choice (one of `choices`), selectors (a list of
    #: operations: a TOML list, the variable's values separated by commas, a repeated flag)
    kind: str
    #: ``conformance run --help``'s words (the plugin's too, unless `pytest_help`)
    help: str
    #: the `Settings` field's default (what neither the file, the environment nor a flag set)
    default: Any = None
    #: ``conformance run``'s flag; None: the file and the environment only
    flag: str | None = None
    #: the environment variable that overrides the file
    variable: str | None = None
    #: a key of conformance.toml's ``[run]``
    in_file: bool = True
    #: the flag is a switch that sets this value (``--insecure``: False); None: it takes a value
    switch: bool | None = None
    metavar: str | None = None
    #: ``pytest --help``'s words, where they differ from `help`
    pytest_help: str | None = None
    #: whether the plugin has the option (``--conformance-`` and the flag's name)
    in_pytest: bool = True
    #: the values a ``choice`` may take
    choices: tuple[str, ...] = ()

    @property
    def pytest_flag(self) -> str | None:
        """The plugin's option, ``--conformance-read-only`` for ``--read-only``."""
        if self.flag is None or not self.in_pytest:
            return None
        return "--conformance-" + self.flag.removeprefix("--")

    @property
    def pytest_dest(self) -> str:
        """Where pytest keeps the option's value (``config.getoption``)."""
        return f"conformance_{self.key}"

    def flag_arguments(self) -> dict[str, Any]:
        """How argparse (and pytest's parser, which is argparse) reads the flag, ``dest`` and
        ``help`` aside. Its default is None, "not given": the file and the environment decide."""
        if self.switch is not None:
            return {"action": "store_const", "const": self.switch, "default": None}
        arguments: dict[str, Any] = {"default": None, "metavar": self.metavar}
        if self.kind in _FLAG_TYPES:
            arguments["type"] = _FLAG_TYPES[self.kind]
        if self.kind == "profile":
            arguments["choices"] = PROFILES
        if self.kind == "choice":
            arguments["choices"] = self.choices
        if self.kind == "selectors":  # repeatable: each flag adds one
            arguments["action"] = "append"
        return arguments


def option(
    default: _T,
    kind: str,
    help: str,
    *,
    flag: str | None = None,
    variable: str | None = None,
    in_file: bool = True,
    switch: bool | None = None,
    metavar: str | None = None,
    pytest_help: str | None = None,
    in_pytest: bool = True,
    choices: tuple[str, ...] = (),
) -> _T:
    """A `Settings` field that is a setting of the run: its default, and its `Option`."""
    declared = Option(
        key="",  # the field's name, once `RUN_OPTIONS` reads it
        kind=kind,
        help=help,
        default=default,
        flag=flag,
        variable=variable,
        in_file=in_file,
        switch=switch,
        metavar=metavar,
        pytest_help=pytest_help,
        in_pytest=in_pytest,
        choices=choices,
    )
    return field(default=default, metadata={"option": declared})


_FAIL_FAST = (
    "stop at the first failure: a sooner verdict (the scenarios run first; what is not reached"
    " is reported as skipped)"
)


@dataclass(frozen=True)
class Settings:
    """A run's settings. A field declared with `option` is a setting of ``conformance run``
    (`RUN_OPTIONS`): a new one is that field and the code that uses it."""

    targets: dict[str, TargetSettings] = field(default_factory=dict)
    profile: str = option(
        "gate",
        "profile",
        "example budget (default gate)",
        flag="--profile",
        variable="CONFORMANCE_PROFILE",
        pytest_help="the example budget: smoke, gate (default) or deep",
    )
    seed: int | None = option(
        None, "seed", "the seed (default: a new one)", flag="--seed", variable="CONFORMANCE_SEED"
    )
    reports: Path = option(
        Path("reports"),
        "path",
        "(default: reports)",
        flag="--reports",
        variable="CONFORMANCE_REPORTS",
        metavar="DIR",
        pytest_help="where verdict.json and junit.xml go (default: reports)",
    )
    read_only: bool = option(
        False,
        "bool",
        "send only GET, HEAD and OPTIONS (and the login); other operations are skipped",
        flag="--read-only",
        variable="CONFORMANCE_READ_ONLY",
        switch=True,
    )
    #: leave singletons (``/system-config``) alone: their writes are skipped, not just restored
    exclude_singletons: bool = option(
        False,
        "bool",
        "skip writes to singletons such as /system-config (default: restore them after)",
        flag="--exclude-singletons",
        variable="CONFORMANCE_EXCLUDE_SINGLETONS",
        switch=True,
    )
    #: the scenarios first, then the fuzzing; pytest's ``-x``; no shrinking
    fail_fast: bool = option(
        False,
        "bool",
        _FAIL_FAST,
        flag="--fail-fast",
        variable="CONFORMANCE_FAIL_FAST",
        switch=True,
        pytest_help=f"{_FAIL_FAST} (with -x)",
    )
    #: elsewhere than under ``x-contract: strict`` an operation without a documented 2xx is
    #: reported as untested, with the reason
    require_exercised: bool = option(
        False,
        "bool",
        "an operation never answered with a documented 2xx fails the gate on any spec (default:"
        " only under x-contract: strict; elsewhere it is untested, with the reason)",
        flag="--require-exercised",
        variable="CONFORMANCE_REQUIRE_EXERCISED",
        switch=True,
    )
    #: seconds per request (connect and read)
    request_timeout_s: float = option(
        30.0,
        "seconds",
        "per request (default 30)",
        flag="--request-timeout",
        variable="CONFORMANCE_REQUEST_TIMEOUT",
        metavar="SECONDS",
    )
    #: seconds for the whole run; None: no limit
    run_timeout_s: float | None = option(
        None,
        "seconds",
        "for the whole run; the reports so far stay (default: none)",
        flag="--run-timeout",
        variable="CONFORMANCE_RUN_TIMEOUT",
        metavar="SECONDS",
        pytest_help="the whole run's time: the engine and the scenarios stop there, and what was"
        " judged before is reported (the verdict says the run was cut short)",
    )
    tls_verify: bool = option(
        True,
        "bool",
        "do not verify the targets' TLS certificates",
        flag="--insecure",
        variable="CONFORMANCE_TLS_VERIFY",
        switch=False,
    )
    #: a CA bundle to verify the targets' certificates with (implies tls_verify)
    ca_bundle: Path | None = option(
        None,
        "file",
        "verify TLS with this CA",
        flag="--ca-bundle",
        variable="CONFORMANCE_CA_BUNDLE",
        metavar="FILE",
        pytest_help="verify the targets' certificates with this CA bundle",
    )
    proxy: str | None = option(
        None,
        "url",
        "an HTTP(S) proxy",
        flag="--proxy",
        variable="CONFORMANCE_PROXY",
        metavar="URL",
        pytest_help="an HTTP(S) proxy for every request",
    )
    #: generate the HTML report at the end of a run (needs Node and the Allure generator); the
    #: runner's alone: pytest is not told
    html_report: bool = option(
        True,
        "bool",
        "do not generate the HTML report at the end (conformance report does it later)",
        flag="--no-html-report",
        variable="CONFORMANCE_HTML_REPORT",
        switch=False,
        in_pytest=False,
    )
    #: shared (default): only what the run made is changed, dangerous operations left out;
    #: disposable (an ephemeral CI database): writes may go anywhere, those are fuzzed too
    environment: str = option(
        "shared",
        "choice",
        "shared (default: only what the run made is changed; operations that look as if they"
        " reset or wipe data are left out) or disposable (an ephemeral database: writes go"
        " anywhere, and those operations are fuzzed)",
        flag="--environment",
        variable="CONFORMANCE_ENVIRONMENT",
        choices=ENVIRONMENTS,
    )
    #: operations the run never calls: operationIds, ``METHOD /path``, paths, ``tag:NAME``
    exclude: tuple[str, ...] = option(
        (),
        "selectors",
        'never call these operations: an operationId, "METHOD /path", a /path (all its'
        " methods) or tag:NAME (repeatable)",
        flag="--exclude",
        variable="CONFORMANCE_EXCLUDE",
        metavar="SELECTOR",
    )
    #: operations a shared run left out as dangerous (or x-exclude), brought back
    include: tuple[str, ...] = option(
        (),
        "selectors",
        "test these operations although they look dangerous (reset, seed, wipe …) or the spec"
        " says x-exclude; selectors as for --exclude (repeatable)",
        flag="--include",
        variable="CONFORMANCE_INCLUDE",
        metavar="SELECTOR",
    )
    #: None: ``waivers.toml`` in the current directory, when there is one (the runner's default)
    waivers: Path | None = option(
        None,
        "file",
        "accepted failures, each with a rule, an operation or scenario, a reason, a ticket and an"
        " expiry date (default: waivers.toml here, if any; bad entries: exit 3)",
        flag="--waivers",
        variable="CONFORMANCE_WAIVERS",
        metavar="FILE",
        pytest_help="accepted failures with a reason, a ticket and an expiry date (waivers.toml)",
    )
    #: "K/N": this run tests the K-th of N shares of the operations (checked by the suite)
    shard: str | None = option(
        None,
        "text",
        "test the K-th of N shares of the operations (one CI job each); join the reports with"
        " conformance merge",
        flag="--shard",
        in_file=False,
        metavar="K/N",
        pytest_help="test the K-th of N shares of the operations (merge the reports with"
        " conformance merge)",
    )
    #: a TOML file of credentials, a table per API (never a flag: it names where secrets are)
    credentials: Path | None = option(
        None,
        "file",
        "the credentials file: a table per API with username and password, or token",
        variable="CONFORMANCE_CREDENTIALS",
    )
    #: ``[scenarios]``: scenario -> switched on, for every scenario `load`'s caller names (the
    #: suite's registry, which this layer may not import); a name missing here is on
    scenarios: dict[str, bool] = field(default_factory=dict)
    #: ``[scenarios] max_wait_s``: the longest a scenario waits (a token's expiry, a window);
    #: None: the suite's default (``conformance.suite.scenarios.MAX_WAIT_S``)
    max_wait_s: float | None = None
    #: where the settings came from, for messages
    source: str = "defaults"

    @property
    def disposable(self) -> bool:
        """The target's data may be changed freely (``environment = "disposable"``)."""
        return self.environment == "disposable"

    @property
    def tls(self) -> bool | str:
        """schemathesis's and httpx's ``verify``: False, True or the CA bundle's path."""
        if not self.tls_verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True


#: every setting of a run, in `Settings`' order (``conformance run --help`` lists them so)
RUN_OPTIONS: tuple[Option, ...] = tuple(
    replace(each.metadata["option"], key=each.name, default=each.default)
    for each in fields(Settings)
    if "option" in each.metadata
)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _unknown(where: str, key: str, known: list[str]) -> ConfigError:
    near = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"{where}: unknown key {key!r}; {hint}")


def _setting(where: str, option: Option, raw: Any, base: Path) -> Any:
    """One run setting read from TOML (typed) or the environment (text), checked by its kind:
    a ``choice`` one of its choices, ``selectors`` a list of strings (the environment's
    separated by commas)."""
    name = f"{where} {option.key}"
    if option.kind == "choice":
        if raw not in option.choices:
            raise ConfigError(f"{name} = {raw!r}: use one of {', '.join(option.choices)}")
        return raw
    if option.kind == "selectors":
        if isinstance(raw, str):  # the environment: "resetDb, GET /createdb"
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
            raise ConfigError(
                f'{name} = {raw!r}: use a list of operations, e.g. ["resetDb", "GET /createdb",'
                ' "/admin/reset", "tag:admin"]'
            )
        return tuple(raw)
    return _value(where, option.key, option.kind, raw, base)


def _value(where: str, key: str, kind: str, raw: Any, base: Path) -> Any:
    """One setting read from TOML (typed) or the environment (text), checked."""
    name = f"{where} {key}"
    if kind == "profile":
        if raw not in PROFILES:
            raise ConfigError(f"{name} = {raw!r}: use one of {', '.join(PROFILES)}")
        return raw
    if kind == "seed":
        try:
            seed = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} = {raw!r}: use a whole number, e.g. 12345") from None
        if isinstance(raw, bool) or not 0 <= seed < 2**32:
            raise ConfigError(f"{name} = {raw!r}: use a whole number from 0 to 4294967295")
        return seed
    if kind == "seconds":
        try:
            seconds = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} = {raw!r}: use a number of seconds, e.g. 30") from None
        if isinstance(raw, bool) or not seconds > 0:
            raise ConfigError(f"{name} = {raw!r}: use a number of seconds above 0, e.g. 30")
        return seconds
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise ConfigError(f"{name} = {raw!r}: use true or false")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{name} = {raw!r}: use a non-empty string")
    if kind == "text":
        return raw
    if kind == "url":
        if not raw.startswith(("http://", "https://")):
            raise ConfigError(f"{name} = {raw!r}: the URL must start with http:// or https://")
        return raw.rstrip("/")
    path = (
        (base / Path(raw).expanduser()) if not Path(raw).expanduser().is_absolute() else Path(raw)
    )
    if kind == "file" and not path.is_file():
        raise ConfigError(f"{name} = {raw!r}: no such file ({path})")
    return path


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a `ConfigError` for one that cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def waiver_texts(
    where: str, entry: Mapping[str, Any], keys: Collection[str], said: Iterable[str], noun: str
) -> dict[str, str]:
    """What every waiver entry (a run's ``[[waiver]]``, a diff's ``[[diff-waiver]]``) is held
    to: no key outside ``keys``, and each key of ``said`` a text that is not blank (returned
    stripped); a `ConfigError` naming ``where`` for the first that is not."""
    extra = set(entry) - set(keys)
    if extra:
        raise ConfigError(
            f"{where}: unknown key {sorted(extra)[0]!r}; use {', '.join(sorted(keys))}"
        )
    texts = {}
    for key in said:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key} is missing; every {noun} says its {key}")
        texts[key] = value.strip()
    return texts


def expiry_date(where: str, raw: Any) -> dt.date:
    """A waiver's ``expires`` (a run's ``[[waiver]]`` or a diff's ``[[diff-waiver]]``): a TOML
    date, or its ISO text; a `ConfigError` naming ``where`` for anything else."""
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            raw = dt.date.fromisoformat(raw)
    if isinstance(raw, dt.datetime) or not isinstance(raw, dt.date):
        raise ConfigError(f"{where}: expires = {raw!r}: write a date, e.g. expires = 2026-12-31")
    return raw


def _from_file(
    path: Path,
    settings: Settings,
    known_scenarios: Collection[str],
    known_probes: Collection[str] = (),
) -> Settings:
    data = read_toml(path)
    base = path.parent
    changes: dict[str, Any] = {"source": str(path)}
    known = ["run", "targets", "scenarios", "probes"]
    for key in data:
        if key not in known:
            raise _unknown(str(path), key, known)
    run = data.get("run", {})
    if not isinstance(run, Mapping):
        raise ConfigError(f"{path}: [run] must be a table")
    keys = {option.key: option for option in RUN_OPTIONS if option.in_file}
    for key, raw in run.items():
        if key not in keys:
            if any(secret in key for secret in SECRET_KEYS):
                raise _secret(path, f"run.{key}")
            raise _unknown(f"{path} [run]", key, list(keys))
        changes[key] = _setting(f"{path} [run]", keys[key], raw, base)
    targets = dict(settings.targets)
    tables = data.get("targets", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{path}: [targets] must hold a table per API, e.g. [targets.gloria]")
    for name, table in tables.items():
        where = f"{path} [targets.{name}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: must be a table with url (and spec)")
        for key in table:
            if key not in TARGET_KEYS and any(secret in key for secret in SECRET_KEYS):
                raise _secret(path, f"targets.{name}.{key}")
            if key not in TARGET_KEYS:
                raise _unknown(where, key, list(TARGET_KEYS))
        url = _value(where, "url", "url", table["url"], base) if "url" in table else None
        spec = _value(where, "spec", "file", table["spec"], base) if "spec" in table else None
        scheme, prefix = (
            _value(where, key, "text", table[key], base) if key in table else None
            for key in ("scheme", "token_prefix")
        )
        login = _login(path, name, table["login"]) if "login" in table else None
        targets[name] = TargetSettings(name, url, spec, scheme, prefix, login)
        if "overlay" in table:
            overlay = _value(where, "overlay", "file", table["overlay"], base)
            targets[name] = replace(targets[name], overlay=overlay)
    changes["targets"] = targets
    scenarios = data.get("scenarios", {})
    if not isinstance(scenarios, Mapping):
        raise ConfigError(f"{path}: [scenarios] must be a table of switches, e.g. latency = false")
    switches = dict(settings.scenarios)
    for key, raw in scenarios.items():
        if key == "max_wait_s":
            changes["max_wait_s"] = _value(f"{path} [scenarios]", key, "seconds", raw, base)
            continue
        if key not in known_scenarios:
            raise _unknown(f"{path} [scenarios]", key, [*known_scenarios, "max_wait_s"])
        switches[key] = _value(f"{path} [scenarios]", key, "bool", raw, base)
    probes = data.get("probes", {})
    if not isinstance(probes, Mapping):
        raise ConfigError(f"{path}: [probes] must be a table of switches, e.g. injection = false")
    for key, raw in probes.items():
        if key not in known_probes:
            raise _unknown(f"{path} [probes]", key, list(known_probes))
        switches[key] = _value(f"{path} [probes]", key, "bool", raw, base)
    changes["scenarios"] = switches
    return replace(settings, **changes)


def _pointer(value: str) -> str:
    """A body field as a JSON pointer: ``email`` is ``/email``; ``/user/email`` stays."""
    return value if value.startswith("/") else "/" + value


def _login(path: Path, name: str, table: Any) -> LoginSettings:
    """``[targets.<name>.login]``: how to log in, names only (a key holding a value is refused)."""
    where = f"{path} [targets.{name}.login]"
    if not isinstance(table, Mapping):
        raise ConfigError(f'{where}: must be a table, e.g. operation = "login"')
    for key in table:
        if key not in LOGIN_KEYS and any(secret in key for secret in SECRET_KEYS):
            raise _secret(path, f"targets.{name}.login.{key}")
        if key not in LOGIN_KEYS:
            raise _unknown(where, key, list(LOGIN_KEYS))
    if "operation" not in table:
        raise ConfigError(
            f'{where}: operation is missing: the login\'s operationId, or "POST /path"'
        )
    found = {key: _value(where, key, "text", raw, path.parent) for key, raw in table.items()}
    for key in ("username_field", "password_field", "token_pointer"):
        if key in found:
            found[key] = _pointer(found[key])
    return LoginSettings(**found)


def _secret(path: Path, key: str) -> ConfigError:
    return ConfigError(
        f"{path}: {key} looks like a credential; this file is meant to be checked in, so put it in"
        " the environment (CONFORMANCE_<API>_USERNAME, _PASSWORD, _TOKEN) or in the file named by"
        " [run] credentials"
    )


def _from_environment(environ: Mapping[str, str], settings: Settings) -> Settings:
    changes: dict[str, Any] = {}
    for option in RUN_OPTIONS:
        raw = environ.get(option.variable) if option.variable else None
        if raw:
            where = f"environment {option.variable}"
            changes[option.key] = _setting(where, option, raw, Path.cwd())
    targets = dict(settings.targets)
    for variable, raw in environ.items():
        if variable.startswith("CONFORMANCE_TARGET_") and raw:
            name = variable.removeprefix("CONFORMANCE_TARGET_").lower()
            url = _value(f"environment {variable}", "url", "url", raw, Path.cwd())
            old = targets.get(name)
            targets[name] = replace(old, url=url) if old else TargetSettings(name, url)
    return replace(settings, **changes, targets=targets)


def load(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    discover: bool = True,
    known_scenarios: Collection[str] = (),
    known_probes: Collection[str] = (),
    **flags: Any,
) -> Settings:
    """The settings of a run: ``path`` (or, with ``discover``, ./conformance.toml when it
    exists), the environment, then ``flags`` (keys of `Settings`; None means not given).
    ``known_scenarios``: the switches ``[scenarios]`` may hold (``scenarios.NAMES``: the runner
    and the plugin know the suite; this layer does not), each on unless the file says not;
    ``known_probes`` the same for ``[probes]`` (``scenarios.PROBES``), in the same switches."""
    environ = os.environ if environ is None else environ
    settings = Settings(scenarios=dict.fromkeys([*known_scenarios, *known_probes], True))
    if path is None and discover and DEFAULT_FILE.is_file():
        path = DEFAULT_FILE
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"--config {path}: no such file")
        settings = _from_file(path, settings, known_scenarios, known_probes)
    settings = _from_environment(environ, settings)
    given = {key: value for key, value in flags.items() if value is not None}
    for key in given:
        if key not in Settings.__dataclass_fields__:
            raise ConfigError(f"unknown setting {key!r}")
    if "profile" in given and given["profile"] not in PROFILES:
        raise ConfigError(f"--profile {given['profile']!r}: use one of {', '.join(PROFILES)}")
    for option in RUN_OPTIONS:  # argparse checked the choices; a caller in Python may not
        if option.key in given and option.kind in ("choice", "selectors"):
            raw = given[option.key]
            raw = list(raw) if option.kind == "selectors" else raw
            given[option.key] = _setting("flags", option, raw, Path.cwd())
    settings = replace(settings, **given)
    if settings.ca_bundle is not None and not settings.tls_verify:
        raise ConfigError(
            "ca_bundle is set but tls_verify is false: drop one (a CA bundle is for verifying)"
        )
    return settings


def resolve_targets(
    settings: Settings,
    urls: Mapping[str, str],
    specs: Mapping[str, Path],
    *,
    bundled: Mapping[str, Path],
    flag: str,
    spec_hint: str,
    overlays: Mapping[str, Path] | None = None,
) -> dict[str, ResolvedTarget]:
    """name -> (url, spec, overlay): the run's targets, resolved once for ``conformance run``
    and the plugin. The config's targets (the file, then the environment), then the URLs, the
    specs and the overlays the flags give by API (a spec given for an API without a URL is no
    target); a target's spec is its own, else the bundled spec of its name (``bundled``: this
    layer reads no spec), its overlay the flag's, else its table's. ``flag`` and ``spec_hint``
    (``{name}``: the API) are how the caller's messages say it."""
    found = {name: (target.url, target.spec) for name, target in settings.targets.items()}
    for name, url in urls.items():
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{flag} {name}={url}: the URL must start with http:// or https://")
        found[name] = (url.rstrip("/"), found.get(name, (url, None))[1])
    targets = {}
    for name, (known, own) in found.items():
        if known is None:
            if urls:  # the flags chose the run's targets: a table without a URL only describes
                continue
            raise ConfigError(
                f"{settings.source} [targets.{name}]: url is missing, e.g. url ="
                f' "https://staging.example.com" (or give {flag} {name}=URL)'
            )
        url = known
        spec = specs.get(name, own) or bundled.get(name)
        if spec is None and name in urls:
            raise UsageError(
                f"{flag} {name}=…: no bundled spec is called {name!r}; "
                + spec_hint.format(name=name)
            )
        if spec is None:
            raise UsageError(
                f"{settings.source}: target {name!r} has no spec and no bundled spec is called"
                f' {name!r}; add spec = "FILE" to [targets.{name}]'
            )
        given = settings.targets.get(name)
        overlay = (overlays or {}).get(name, given.overlay if given else None)
        targets[name] = ResolvedTarget(url, spec, overlay)
    return targets


#: a principal's keys in the credentials file, and the variables' suffixes
#: (``CONFORMANCE_<API>[_<PRINCIPAL>]_<KEY>``): which are secrets (masked, never printed)
PRINCIPAL_KEYS = {
    "username": True,
    "password": True,
    "token": True,
    "client_id": False,
    "client_secret": True,
    "role": False,
}
#: keys of the API's own table only (they hold for its every principal)
API_KEYS = ("prefix", "scheme")
#: the variables' suffixes, longest first (``TOKEN_PREFIX`` before ``TOKEN``), and their keys
_SUFFIXES = sorted(
    [(key.upper(), key) for key in PRINCIPAL_KEYS]
    + [("TOKEN_PREFIX", "prefix"), ("SCHEME", "scheme")],
    key=lambda pair: -len(pair[0]),
)


@dataclass(frozen=True)
class Secrets:
    """One API's credentials (its default principal's: the run's own), from the environment or
    the credentials file, and its named principals (`principals`), each with its role."""

    username: str | None = field(default=None)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    #: the principal's role (x-roles), where the user says it
    role: str | None = None
    #: what an apiKey header's value starts with (``Token``): OpenAPI cannot state it
    prefix: str | None = None
    #: the security scheme these credentials are for; None: chosen from the spec
    scheme: str | None = None
    #: how to log in where the spec does not say (``[targets.<API>.login]``)
    login: LoginSettings | None = None
    #: name -> another account of the API (``[<API>.<name>]``, ``CONFORMANCE_<API>_<NAME>_…``)
    principals: Mapping[str, Secrets] = field(default_factory=dict)


def _read_credentials(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"credentials {path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        # the message may quote a line of the file: a secret; say where only
        line = getattr(exc, "lineno", None)
        raise ConfigError(f"credentials {path}: not valid TOML (line {line})") from None


def _table(where: str, table: Any, keys: Collection[str]) -> dict[str, Any]:
    """One principal's table of the credentials file: its keys (strings), and its sub-tables
    (other principals) apart under ``principals`` when ``keys`` allows them."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table")
    found: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping) and "principals" in keys:
            found.setdefault("principals", {})[key] = _table(
                f"{where[:-1]}.{key}]", value, list(PRINCIPAL_KEYS)
            )
            continue
        if key not in keys or key == "principals":
            raise _unknown(where, key, [k for k in keys if k != "principals"])
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} {key}: use a non-empty string")
        found[key] = value
    return found


def _from_variables(api: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """``CONFORMANCE_<API>_<KEY>`` and ``CONFORMANCE_<API>_<PRINCIPAL>_<KEY>`` as the
    credentials file's table of the API."""
    found: dict[str, Any] = {}
    start = f"CONFORMANCE_{api.upper()}_"
    for variable, value in environ.items():
        if not variable.startswith(start) or not value:
            continue
        rest = variable.removeprefix(start)
        for suffix, key in _SUFFIXES:
            if rest == suffix:
                found[key] = value
                break
            if rest.endswith("_" + suffix) and key in PRINCIPAL_KEYS:
                name = rest.removesuffix("_" + suffix).lower()
                found.setdefault("principals", {}).setdefault(name, {})[key] = value
                break
    return found


def _secrets(table: Mapping[str, Any], **more: Any) -> Secrets:
    principals = {
        name: _secrets(inner) for name, inner in sorted(table.get("principals", {}).items())
    }
    known = {key: table[key] for key in (*PRINCIPAL_KEYS, *API_KEYS) if key in table}
    return Secrets(**known, principals=principals, **more)


def credentials(api: str, settings: Settings, environ: Mapping[str, str] | None = None) -> Secrets:
    """``api``'s credentials: the environment wins over the credentials file, key by key; the
    target's table of the config gives the scheme, the prefix and the login (names, not
    secrets), which the credentials override."""
    environ = os.environ if environ is None else environ
    table: dict[str, Any] = {}
    if settings.credentials is not None:
        path = settings.credentials
        data = _read_credentials(path)
        if api in data:
            where = f"credentials {path} [{api}]"
            table = _table(where, data[api], [*PRINCIPAL_KEYS, *API_KEYS, "principals"])
    variables = _from_variables(api, environ)
    principals = table.get("principals", {})
    for name, inner in variables.pop("principals", {}).items():
        principals[name] = {**principals.get(name, {}), **inner}
    table = {**table, **variables, "principals": principals}
    target = settings.targets.get(api)
    if target is not None:
        table.setdefault("scheme", target.scheme)
        table.setdefault("prefix", target.token_prefix)
    table = {key: value for key, value in table.items() if value is not None}
    return _secrets(table, login=target.login if target is not None else None)

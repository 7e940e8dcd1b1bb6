"""A run's settings: ``conformance.toml``, then the environment, then flags (each overriding the
one before). ``conformance.example.toml`` at the repository's root is the commented reference.

Credentials never come from this file or from flags: from the environment
(``CONFORMANCE_<API>_USERNAME`` / ``_PASSWORD`` / ``_TOKEN``) or from the file named by
``credentials`` (TOML, a table per API with ``username``, ``password``, ``token``), which the
environment overrides. A bad setting is a `ConfigError` naming the key and the fix (exit 3).

Environment variables (each overrides its key): ``CONFORMANCE_PROFILE``, ``CONFORMANCE_SEED``,
``CONFORMANCE_REPORTS``, ``CONFORMANCE_REQUEST_TIMEOUT``, ``CONFORMANCE_RUN_TIMEOUT``,
``CONFORMANCE_TLS_VERIFY``, ``CONFORMANCE_CA_BUNDLE``, ``CONFORMANCE_PROXY``,
``CONFORMANCE_READ_ONLY``, ``CONFORMANCE_EXCLUDE_SINGLETONS``, ``CONFORMANCE_FAIL_FAST``,
``CONFORMANCE_REQUIRE_EXERCISED``, ``CONFORMANCE_HTML_REPORT``, ``CONFORMANCE_CREDENTIALS``,
``CONFORMANCE_WAIVERS``, and ``CONFORMANCE_TARGET_<API>`` for a target's URL.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.errors import ConfigError

#: the file a run reads when it is there and no other is named
DEFAULT_FILE = Path("conformance.toml")
PROFILES = ("smoke", "gate", "deep")
#: keys a target's table may hold
TARGET_KEYS = ("url", "spec")
#: what must never be written into conformance.toml (it is checked in)
SECRET_KEYS = ("password", "token", "username", "secret", "api_key")


@dataclass(frozen=True)
class TargetSettings:
    name: str
    url: str
    #: the spec file; None: the bundled spec of that name
    spec: Path | None = None


@dataclass(frozen=True)
class Settings:
    targets: dict[str, TargetSettings] = field(default_factory=dict)
    profile: str = "gate"
    seed: int | None = None
    reports: Path = Path("reports")
    #: seconds per request (connect and read)
    request_timeout_s: float = 30.0
    #: seconds for the whole run; None: no limit
    run_timeout_s: float | None = None
    tls_verify: bool = True
    #: a CA bundle to verify the targets' certificates with (implies tls_verify)
    ca_bundle: Path | None = None
    proxy: str | None = None
    read_only: bool = False
    #: leave singletons (``/system-config``) alone: their writes are skipped, not just restored
    exclude_singletons: bool = False
    #: stop at the first failure (the scenarios first, then the fuzzing; no shrinking)
    fail_fast: bool = False
    #: an operation never answered with a documented 2xx fails the gate on every spec, not only
    #: under ``x-contract: strict`` (elsewhere it is reported as untested, with the reason)
    require_exercised: bool = False
    credentials: Path | None = None
    waivers: Path | None = None
    #: generate the HTML report at the end of a run (needs Node and the Allure generator)
    html_report: bool = True
    #: ``[scenarios]``: scenario -> switched on, for every scenario `load`'s caller names (the
    #: suite's registry, which this layer may not import); a name missing here is on
    scenarios: dict[str, bool] = field(default_factory=dict)
    #: ``[scenarios] max_wait_s``: the longest a scenario waits (a token's expiry, a window);
    #: None: the suite's default (``conformance.suite.scenarios.MAX_WAIT_S``)
    max_wait_s: float | None = None
    #: where the settings came from, for messages
    source: str = "defaults"

    @property
    def tls(self) -> bool | str:
        """schemathesis's and httpx's ``verify``: False, True or the CA bundle's path."""
        if not self.tls_verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True


#: key -> (kind, environment variable)
RUN_KEYS: dict[str, tuple[str, str]] = {
    "profile": ("profile", "CONFORMANCE_PROFILE"),
    "seed": ("seed", "CONFORMANCE_SEED"),
    "reports": ("path", "CONFORMANCE_REPORTS"),
    "request_timeout_s": ("seconds", "CONFORMANCE_REQUEST_TIMEOUT"),
    "run_timeout_s": ("seconds", "CONFORMANCE_RUN_TIMEOUT"),
    "tls_verify": ("bool", "CONFORMANCE_TLS_VERIFY"),
    "ca_bundle": ("file", "CONFORMANCE_CA_BUNDLE"),
    "proxy": ("url", "CONFORMANCE_PROXY"),
    "read_only": ("bool", "CONFORMANCE_READ_ONLY"),
    "exclude_singletons": ("bool", "CONFORMANCE_EXCLUDE_SINGLETONS"),
    "fail_fast": ("bool", "CONFORMANCE_FAIL_FAST"),
    "require_exercised": ("bool", "CONFORMANCE_REQUIRE_EXERCISED"),
    "credentials": ("file", "CONFORMANCE_CREDENTIALS"),
    "waivers": ("file", "CONFORMANCE_WAIVERS"),
    "html_report": ("bool", "CONFORMANCE_HTML_REPORT"),
}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _unknown(where: str, key: str, known: list[str]) -> ConfigError:
    near = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"{where}: unknown key {key!r}; {hint}")


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


def _from_file(path: Path, settings: Settings, known_scenarios: Collection[str]) -> Settings:
    data = read_toml(path)
    base = path.parent
    changes: dict[str, Any] = {"source": str(path)}
    known = ["run", "targets", "scenarios"]
    for key in data:
        if key not in known:
            raise _unknown(str(path), key, known)
    run = data.get("run", {})
    if not isinstance(run, Mapping):
        raise ConfigError(f"{path}: [run] must be a table")
    for key, raw in run.items():
        if key not in RUN_KEYS:
            if any(secret in key for secret in SECRET_KEYS):
                raise _secret(path, f"run.{key}")
            raise _unknown(f"{path} [run]", key, list(RUN_KEYS))
        changes[key] = _value(f"{path} [run]", key, RUN_KEYS[key][0], raw, base)
    targets = dict(settings.targets)
    tables = data.get("targets", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{path}: [targets] must hold a table per API, e.g. [targets.gloria]")
    for name, table in tables.items():
        where = f"{path} [targets.{name}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: must be a table with url (and spec)")
        for key in table:
            if any(secret in key for secret in SECRET_KEYS):
                raise _secret(path, f"targets.{name}.{key}")
            if key not in TARGET_KEYS:
                raise _unknown(where, key, list(TARGET_KEYS))
        if "url" not in table:
            raise ConfigError(f'{where}: url is missing, e.g. url = "https://staging.example.com"')
        url = _value(where, "url", "url", table["url"], base)
        spec = _value(where, "spec", "file", table["spec"], base) if "spec" in table else None
        targets[name] = TargetSettings(name, url, spec)
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
    changes["scenarios"] = switches
    return replace(settings, **changes)


def _secret(path: Path, key: str) -> ConfigError:
    return ConfigError(
        f"{path}: {key} looks like a credential; this file is meant to be checked in, so put it in"
        " the environment (CONFORMANCE_<API>_USERNAME, _PASSWORD, _TOKEN) or in the file named by"
        " [run] credentials"
    )


def _from_environment(environ: Mapping[str, str], settings: Settings) -> Settings:
    changes: dict[str, Any] = {}
    for key, (kind, variable) in RUN_KEYS.items():
        raw = environ.get(variable)
        if raw:
            changes[key] = _value(f"environment {variable}", key, kind, raw, Path.cwd())
    targets = dict(settings.targets)
    for variable, raw in environ.items():
        if variable.startswith("CONFORMANCE_TARGET_") and raw:
            name = variable.removeprefix("CONFORMANCE_TARGET_").lower()
            url = _value(f"environment {variable}", "url", "url", raw, Path.cwd())
            old = targets.get(name)
            targets[name] = TargetSettings(name, url, old.spec if old else None)
    return replace(settings, **changes, targets=targets)


def load(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    discover: bool = True,
    known_scenarios: Collection[str] = (),
    **flags: Any,
) -> Settings:
    """The settings of a run: ``path`` (or, with ``discover``, ./conformance.toml when it
    exists), the environment, then ``flags`` (keys of `Settings`; None means not given).
    ``known_scenarios``: the switches ``[scenarios]`` may hold (``scenarios.NAMES``: the runner
    and the plugin know the suite; this layer does not), each on unless the file says not."""
    environ = os.environ if environ is None else environ
    settings = Settings(scenarios=dict.fromkeys(known_scenarios, True))
    if path is None and discover and DEFAULT_FILE.is_file():
        path = DEFAULT_FILE
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"--config {path}: no such file")
        settings = _from_file(path, settings, known_scenarios)
    settings = _from_environment(environ, settings)
    given = {key: value for key, value in flags.items() if value is not None}
    for key in given:
        if key not in Settings.__dataclass_fields__:
            raise ConfigError(f"unknown setting {key!r}")
    if "profile" in given and given["profile"] not in PROFILES:
        raise ConfigError(f"--profile {given['profile']!r}: use one of {', '.join(PROFILES)}")
    settings = replace(settings, **given)
    if settings.ca_bundle is not None and not settings.tls_verify:
        raise ConfigError(
            "ca_bundle is set but tls_verify is false: drop one (a CA bundle is for verifying)"
        )
    return settings


@dataclass(frozen=True)
class Secrets:
    """One API's credentials, from the environment or the credentials file."""

    username: str | None = field(default=None)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


def credentials(api: str, settings: Settings, environ: Mapping[str, str] | None = None) -> Secrets:
    """``api``'s credentials: the environment wins over the credentials file."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    if settings.credentials is not None:
        path = settings.credentials
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"credentials {path}: cannot be read ({exc.strerror or exc})"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            # the message may quote a line of the file: a secret; say where only
            line = getattr(exc, "lineno", None)
            raise ConfigError(f"credentials {path}: not valid TOML (line {line})") from None
        table = data.get(api, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"credentials {path}: [{api}] must be a table")
        for key, value in table.items():
            if key not in ("username", "password", "token"):
                raise _unknown(
                    f"credentials {path} [{api}]", key, ["username", "password", "token"]
                )
            if not isinstance(value, str) or not value:
                raise ConfigError(f"credentials {path} [{api}] {key}: use a non-empty string")
            found[key] = value
    prefix = f"CONFORMANCE_{api.upper()}_"
    for key in ("username", "password", "token"):
        value = environ.get(prefix + key.upper())
        if value:
            found[key] = value
    return Secrets(found.get("username"), found.get("password"), found.get("token"))

"""``conformance diff OLD NEW``: read both sides, diff them, apply the diff waivers, replay the
old spec against the new backend with ``--target``, say it, and exit 0 (nothing that fails the
gate), 1 (a breaking change, or a warning under ``--fail-on warning``, or an expired diff
waiver) or 3 (bad input)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from conformance.diffing._diff import diff
from conformance.diffing._model import ChangeClass
from conformance.diffing._reading import read_side
from conformance.diffing._report import DiffResult, as_json, as_markdown, as_text
from conformance.diffing._waivers import DiffWaiver, read_diff_waivers, waive
from conformance.errors import ConfigError, ExitCode

if TYPE_CHECKING:  # the replay loads schemathesis: only a diff with --target pays for it
    from conformance.diffing._replay import Credential

#: the waiver file a diff reads when there is one here and no other is named (the run's)
DEFAULT_WAIVERS = Path("waivers.toml")
FORMATS = ("text", "json", "markdown")


@dataclass(frozen=True, slots=True)
class DiffOptions:
    old: str
    new: str
    overlays: tuple[Path, ...] = ()
    config: Path | None = None
    format: str = "text"
    output: Path | None = None
    fail_on: ChangeClass = ChangeClass.BREAKING
    waivers: Path | None = None
    target: str | None = None
    #: whose credentials the replay presents (``CONFORMANCE_<API>_TOKEN``): ``--target
    #: NAME=URL``'s name, else NEW's file name up to its first dot, as a run names a bare target
    api: str | None = None
    #: ``shared`` (GETs only) or ``disposable`` (writes too), as a run's setting
    environment: str = "shared"
    #: the replay's bounds
    max_requests: int = 200
    max_seconds: float = 60.0
    today: dt.date = field(default_factory=dt.date.today)


def command(options: DiffOptions, out: TextIO) -> ExitCode:
    result = diff_result(options)
    text = {"text": as_text, "json": as_json, "markdown": as_markdown}[options.format](result)
    if options.output is None:
        out.write(text)
        return result.exit_code
    try:
        options.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"--output {options.output}: cannot be written ({exc.strerror})"
        ) from None
    out.write(as_text(result) if options.format != "text" else text)
    return result.exit_code


def diff_result(options: DiffOptions) -> DiffResult:
    """The diff of ``options.old`` and ``options.new`` (and the replay, with a target), waived."""
    waivers = _waivers(options.waivers)
    old = read_side(options.old, options.overlays, options.config)
    new = read_side(options.new, options.overlays, options.config)
    changes = diff(old.spec, new.spec, options.today)
    replayed = None
    if options.target is not None:
        from conformance.diffing._replay import replay

        replayed, broken = replay(
            old.spec,
            options.target,
            write=options.environment == "disposable",
            max_requests=options.max_requests,
            max_seconds=options.max_seconds,
            credential=_credential(options),
        )
        changes += broken
    return DiffResult(
        old.label,
        new.label,
        waive(changes, waivers, options.today),
        fail_on=options.fail_on,
        waivers=waivers,
        today=options.today,
        replayed=replayed,
    )


def api_name(options: DiffOptions) -> str:
    """The API whose credentials the replay presents."""
    if options.api:
        return options.api
    return Path(options.new.rpartition(":")[2] or options.new).name.split(".")[0]


def _credential(options: DiffOptions) -> Credential | None:
    """The API's token from the environment (as a run reads it), if there is one."""
    from conformance import config
    from conformance.diffing._replay import Credential

    api = api_name(options)
    secrets = config.credentials(api, config.Settings())
    if not secrets.token:
        return None
    variable = f"CONFORMANCE_{api.upper().replace('-', '_')}_TOKEN"
    return Credential(secrets.token, variable, secrets.prefix)


def _waivers(path: Path | None) -> list[DiffWaiver]:
    if path is None:
        return read_diff_waivers(DEFAULT_WAIVERS) if DEFAULT_WAIVERS.is_file() else []
    if not path.is_file():
        raise ConfigError(f"--waivers {path}: no such file")
    return read_diff_waivers(path)

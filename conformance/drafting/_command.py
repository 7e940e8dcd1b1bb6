"""``conformance init --spec FILE [--target [NAME=]URL]``: read the spec, draft its overlay,
confirm the login against the target when one is given, write the file (never over an existing
one without ``--force``) and say what was drafted, what was not, and what to run next."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from conformance import config
from conformance.contract import load_spec
from conformance.drafting._confirm import Login, confirmed
from conformance.drafting._draft import draft
from conformance.drafting._model import Draft, tokens
from conformance.drafting._writing import overlay_text
from conformance.errors import ExitCode, UsageError

DEFAULT_OUT = Path("conformance.overlay.yaml")


@dataclass(frozen=True, slots=True)
class InitOptions:
    spec: Path
    #: ``NAME=URL`` or ``URL`` (the API's base URL), if given
    target: str | None = None
    out: Path = DEFAULT_OUT
    force: bool = False
    #: the settings file that may name a credentials file (default: ./conformance.toml)
    config: Path | None = None


def api_name(spec: Path) -> str:
    """The API's name when the user gives none: the spec file's name up to its first dot,
    lower case (``gloria.openapi.yaml`` gives gloria)."""
    name = re.sub(r"[^a-z0-9_]", "_", spec.name.split(".")[0].lower()).strip("_")
    return name or "api"


def target_of(given: str | None, spec: Path) -> tuple[str, str | None]:
    """(API name, URL or None) from ``--target``: ``NAME=URL``, or a URL named after the spec."""
    if given is None:
        return api_name(spec), None
    name, equals, url = given.partition("=")
    if not equals or name.startswith(("http://", "https://")):
        name, url = api_name(spec), given
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise UsageError(
            f"conformance init --target {given}: the API's name {name!r} must be letters, digits"
            " and _ (it names the credential variables, CONFORMANCE_<NAME>_USERNAME)"
        )
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"conformance init --target {given}: the URL must start with http:// or https://"
        )
    return name.lower(), url


def command(options: InitOptions, out: TextIO) -> ExitCode:
    """Run ``conformance init``; its exit code (a bad input raises a one-sentence error)."""
    name, url = target_of(options.target, options.spec)
    if options.out.exists() and not options.force:
        raise UsageError(
            f"conformance init: {options.out} exists; give --force to replace it, or --out FILE"
        )
    spec = load_spec(options.spec)
    drafted = draft(spec)
    if url is not None:
        settings = config.load(options.config)
        secrets = config.credentials(name, settings)
        prefix = f"CONFORMANCE_{name.upper()}_"
        login = (
            Login(secrets.username, secrets.password, f"{prefix}USERNAME and _PASSWORD")
            if secrets.username and secrets.password
            else None
        )
        hint = f"set {prefix}USERNAME and {prefix}PASSWORD (or the credentials file)"
        drafted = confirmed(drafted, spec, url, login, hint)
    following = (
        f"conformance run --target {name}={url or 'URL'} --spec {options.spec}"
        f" --overlay {options.out}"
    )
    if not drafted.actions:
        out.write(
            f"conformance init: nothing to draft for {options.spec}: it declares what init can"
            " infer, or init found nothing to declare; no file written\n"
        )
        for line in _gaps(drafted):
            out.write(line + "\n")
        return ExitCode.OK
    try:
        options.out.write_text(overlay_text(drafted, following), encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"conformance init: cannot write {options.out} ({error.strerror or error})"
        ) from None
    for line in summary(drafted, options.out, following):
        out.write(line + "\n")
    return ExitCode.OK


def summary(drafted: Draft, written: Path, following: str) -> Iterator[str]:
    """What the terminal says: what was drafted, what the target said, what was not drafted,
    and the command to run next."""
    yield (
        f"conformance init: drafted {written} from {drafted.spec.name}:"
        f" {_counted(len(drafted.actions), 'declaration')}"
    )
    for extension, said in _drafted(drafted):
        yield f"  {extension:<21} {said}"
    if drafted.notes:
        kinds = _counted(len(drafted.notes), "resource kind")
        yield (
            f"  {'read as it is':<21} {kinds}, their creates, deletes and versions (listed at the"
            " end of the file)"
        )
    for line in drafted.confirmed:
        yield f"  {'target':<21} {line}"
    yield from _gaps(drafted)
    yield "Next: check each action of the file against what the API does, then run"
    yield f"  {following}"


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _gaps(drafted: Draft) -> Iterator[str]:
    if drafted.gaps:
        yield f"Not inferred ({len(drafted.gaps)}; at the end of the file, with guesses to check):"
        for gap in drafted.gaps:
            yield f"  - {gap.what}"


def _drafted(drafted: Draft) -> Iterator[tuple[str, str]]:
    """One line per declaration drafted."""
    for action in drafted.of("x-auth-flow"):
        steps = [
            f"{step} ({', '.join(_operations(value))})"
            if isinstance(value, dict)
            else f"{step} {value}"
            for step, value in action.value.items()
        ]
        yield "x-auth-flow", ", ".join(steps)
    for action in drafted.of("x-roles"):
        yield "x-roles", ", ".join(action.value) + " (the root: every role the API knows)"
    budgets = drafted.of("x-latency-budget-ms")
    if budgets:
        by_value: dict[int, list[str]] = {}
        for action in budgets:
            if action.pointer:
                method, path = reversed(tokens(action.pointer)[1:])
                by_value.setdefault(action.value, []).append(f"{method.upper()} {path}")
        root = [f"{a.value} ms by default (a default, not read)" for a in budgets if not a.pointer]
        rest = [f"{value} ms on {', '.join(on)}" for value, on in sorted(by_value.items())]
        yield "x-latency-budget-ms", "; ".join(root + rest)
    references = drafted.of("x-references")
    if references:
        yield "x-references", f"{len(references)} members holding another resource's id"
    for extension in ("x-unique", "x-owner"):
        found = drafted.of(extension)
        if found:
            yield extension, "on " + ", ".join(tokens(a.pointer)[-1] for a in found)


def _operations(step: dict[str, object]) -> list[str]:
    """The operations an auth step names (the accounts step names two)."""
    return [str(step[key]) for key in ("operation", "delete") if key in step]

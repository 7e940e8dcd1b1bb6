"""OLD and NEW as a diff reads them: a file, or a file at a git revision (``main:specs/x.yaml``),
with the overlays a run would apply to it.

A run applies the overlay its target names in ``conformance.toml`` (``[targets.<api>]
overlay = "…"``, for the target whose spec the file is); a diff applies the same, so that the
declarations it compares are the run's. For a revision, that overlay is read at the same
revision (a change of the overlay is a change of the contract); one that did not exist there is
no overlay of that side. ``--overlay FILE`` adds overlays to both sides, after those.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from conformance.config import DEFAULT_FILE, read_toml
from conformance.contract import (
    BUNDLED_APIS,
    Overlay,
    Spec,
    apply_overlay,
    bundled_spec,
    load_overlay,
    parse_document,
    parse_text,
    read_overlay,
    read_spec,
)
from conformance.errors import ConfigError, SpecNotFound

#: seconds git may take to show one file
GIT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Side:
    """OLD or NEW: how the user named it, and the spec read from it."""

    label: str
    spec: Spec


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a side's text comes from: a file, or ``path`` at git revision ``revision``."""

    argument: str
    path: Path
    revision: str | None = None


def read_side(argument: str, overlays: Iterable[Path] = (), config: Path | None = None) -> Side:
    """The spec ``argument`` names, with the run's overlay for it and then ``overlays``; a
    `SpecError` (exit 3) for a file, revision or path that cannot be read."""
    source = _source(argument)
    document = parse_document(Path(argument) if source.revision else source.path, _text(source))
    for overlay in [*_configured(source, config), *map(load_overlay, overlays)]:
        document, _ = apply_overlay(document, overlay)
    return Side(argument, read_spec(document))


def _source(argument: str) -> _Source:
    path = Path(argument)
    if path.exists() or ":" not in argument:
        return _Source(argument, path)
    revision, _, inside = argument.partition(":")
    if not revision or not inside:
        raise SpecNotFound(argument, "write a file, or a git revision and a path (main:api.yaml)")
    return _Source(argument, Path(inside), revision)


def _text(source: _Source) -> str:
    if source.revision is None:
        if not source.path.is_file():
            reason = "is a directory, not a spec file" if source.path.is_dir() else "no such file"
            raise SpecNotFound(source.path, reason)
        try:
            return source.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecNotFound(source.path, f"cannot be read ({exc})") from None
    return git_show(source.revision, str(source.path), source.argument)


def git_show(revision: str, path: str, argument: str) -> str:
    """``git show REVISION:PATH`` in the current directory's repository; a `SpecNotFound`
    saying what git said when it cannot (no git, no repository, no such revision or path)."""
    try:
        done = subprocess.run(
            ["git", "show", f"{revision}:{path}"],
            capture_output=True,
            timeout=GIT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise SpecNotFound(argument, "git is not installed, so a revision cannot be read") from None
    except subprocess.TimeoutExpired:
        raise SpecNotFound(argument, f"git show took over {GIT_SECONDS} s") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = said[0].removeprefix("fatal: ") if said else f"git exit {done.returncode}"
        raise SpecNotFound(argument, f"git cannot show it: {reason}")
    try:
        return done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecNotFound(argument, "not UTF-8 text") from None


# --- the overlay a run would apply -------------------------------------------------------------


def _configured(source: _Source, config: Path | None) -> list[Overlay]:
    """The overlay ``conformance.toml`` names for the target whose spec ``source`` is."""
    path = config if config is not None else DEFAULT_FILE
    if not path.is_file():
        if config is not None:
            raise ConfigError(f"--config {config}: no such file")
        return []
    overlay = _overlay_for(_file_of(source), read_toml(path), path.parent)
    if overlay is None:
        return []
    if source.revision is None:
        return [load_overlay(overlay)]
    inside = _in_repository(overlay)
    try:
        text = git_show(source.revision, inside, f"{source.revision}:{inside}")
    except SpecNotFound:
        return []  # no overlay at that revision: the run there applied none
    data, lines, _ = parse_text(Path(inside), text)
    return [read_overlay(data, f"{source.revision}:{inside}", lines)]


def _file_of(source: _Source) -> Path:
    """The file in the working tree a source names (for a revision: the same path in it)."""
    if source.revision is None:
        return source.path.resolve()
    top = _toplevel()
    inside = str(source.path)
    return (Path.cwd() / inside[2:]).resolve() if inside.startswith("./") else top / inside


def _overlay_for(spec: Path, data: Mapping[str, object], base: Path) -> Path | None:
    targets = data.get("targets", {})
    if not isinstance(targets, Mapping):
        return None
    for name, table in targets.items():
        if not isinstance(table, Mapping) or not isinstance(table.get("overlay"), str):
            continue
        own = table.get("spec")
        if isinstance(own, str):
            target_spec = (base / own).resolve()
        elif name in BUNDLED_APIS:
            target_spec = bundled_spec(name).resolve()
        else:
            continue
        if target_spec == spec:
            return (base / str(table["overlay"])).resolve()
    return None


def _toplevel() -> Path:
    done = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        timeout=GIT_SECONDS,
        check=False,
    )
    return Path(done.stdout.strip()).resolve() if done.returncode == 0 else Path.cwd().resolve()


def _in_repository(path: Path) -> str:
    try:
        return path.relative_to(_toplevel()).as_posix()
    except ValueError:
        return path.as_posix()

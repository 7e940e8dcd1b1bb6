"""Exit codes and the errors that end a command with one plain sentence.

    ConformanceError          base: a message for the user and an exit code
    ├── UsageError            a bad flag or argument (exit 3)
    ├── ConfigError           a bad configuration file or value (exit 3)
    └── SpecError             a spec that cannot be read as OpenAPI (exit 3)
        ├── SpecNotFound      the file is missing or unreadable
        ├── SpecSyntaxError   YAML/JSON that does not parse (carries the line)
        ├── NotOpenAPI        parses, but is not an OpenAPI 3.x document
        └── OverlayError      an overlay file that is not an OpenAPI Overlay 1.0 document

The CLI prints ``str(error)`` and exits with ``error.exit_code``; nothing else reaches the user,
never a traceback.
"""

from __future__ import annotations

import enum
from pathlib import Path


class ExitCode(enum.IntEnum):
    """The documented exit codes (DESIGN.md, "Exit codes")."""

    OK = 0
    #: `run`: contract violations; `lint`: findings.
    FAILED = 1
    #: `run`: the target could not be reached or broke the run.
    TARGET_BROKEN = 2
    #: usage, configuration or spec error.
    BAD_INPUT = 3


class ConformanceError(Exception):
    """An error with a message meant for the user, and the exit code it ends the command with."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class UsageError(ConformanceError):
    """A bad command-line argument; the message names the value and the fix."""


class ConfigError(ConformanceError):
    """A configuration file or value that cannot be used; the message names the key and the fix."""


class SpecError(ConformanceError):
    """A spec file that cannot be read as an OpenAPI document."""

    def __init__(self, path: Path | str, reason: str, *, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")


class SpecNotFound(SpecError):
    """The spec file does not exist or cannot be read."""


class SpecSyntaxError(SpecError):
    """The file is not valid YAML or JSON."""


class NotOpenAPI(SpecError):
    """The file parses but is not an OpenAPI 3.x document."""


class OverlayError(SpecError):
    """An overlay file that parses but is not an OpenAPI Overlay 1.0 document (no ``overlay``
    version, another version, no ``info`` or no ``actions``)."""

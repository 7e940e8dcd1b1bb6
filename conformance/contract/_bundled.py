"""Where the project's own specs are: in the package (a wheel) or beside it (a checkout)."""

from __future__ import annotations

from pathlib import Path

#: The APIs whose specs ship with conformance, by the name the CLI uses.
BUNDLED_APIS = ("gloria", "tchat")


def specs_dir() -> Path:
    """The folder holding ``<api>.openapi.yaml``; a wheel carries it as ``conformance/_specs``."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "_specs"
    return installed if installed.is_dir() else package.parent / "specs"


def bundled_spec(api: str) -> Path:
    """The path of the bundled spec for ``api`` (one of `BUNDLED_APIS`)."""
    if api not in BUNDLED_APIS:
        raise ValueError(f"api={api!r} is not bundled; choose one of {', '.join(BUNDLED_APIS)}")
    return specs_dir() / f"{api}.openapi.yaml"

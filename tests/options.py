"""Nothing but what tests use to give each run setting (`config.RUN_OPTIONS`) on a command line:
a value other than its default, by the setting's kind, and the words that give it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.config import RUN_OPTIONS, Option


def no_setting_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each setting's variable unset, so that the test sees only what it gives."""
    for option in RUN_OPTIONS:
        if option.variable:
            monkeypatch.delenv(option.variable, raising=False)


def given(option: Option, folder: Path) -> tuple[list[str], Any]:
    """``option``'s flag with a value that is not its default (a file it names exists in
    ``folder``), and the value the settings must then hold."""
    assert option.flag is not None, option
    if option.switch is not None:
        return [option.flag], option.switch
    if option.kind == "selectors":  # repeatable
        return [option.flag, "resetDb", option.flag, "tag:admin"], ("resetDb", "tag:admin")
    if option.kind == "choice":
        (choice,) = [choice for choice in option.choices if choice != option.default][:1]
        return [option.flag, choice], choice
    value: Any = {
        "profile": "deep",
        "seed": 7,
        "seconds": 12.5,
        "path": folder / "elsewhere",
        "url": "http://proxy.internal:3128",
        "text": "2/3",
    }.get(option.kind)
    if option.kind == "file":
        value = folder / f"{option.key}.toml"
        value.write_text("", encoding="utf-8")
    assert value is not None, f"a kind without a sample value: {option.kind}"
    assert value != option.default, option
    return [option.flag, str(value)], value

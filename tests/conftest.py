"""Fixtures shared by the project's tests (see tests/README.md for where each kind goes)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.contract import bundled_spec, read_document

FIXTURES = Path(__file__).parent / "fixtures"

Mutation = Callable[[dict[str, Any]], object]
SpecCopy = Callable[[Mutation], Path]


@pytest.fixture(scope="session")
def tchat_data() -> dict[str, Any]:
    """The bundled Tchat spec as data (read once; tests copy it before changing it)."""
    return read_document(bundled_spec("tchat")).data


@pytest.fixture
def tchat_copy(tmp_path: Path, tchat_data: dict[str, Any]) -> SpecCopy:
    """``tchat_copy(mutate)``: a copy of the Tchat spec changed by ``mutate``, written as YAML."""

    def make(mutate: Mutation) -> Path:
        data = copy.deepcopy(tchat_data)
        mutate(data)
        path = tmp_path / "tchat-copy.openapi.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return make


@pytest.fixture(autouse=True)
def _no_html_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs in tests skip the HTML report (seconds each); tests/reporting/test_html.py turns it
    back on where the report is what they check."""
    monkeypatch.setenv("CONFORMANCE_HTML_REPORT", "0")

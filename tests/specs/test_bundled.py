"""What every bundled spec must be: clean, precise, and usable by schemathesis as it stands."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Ok

from conformance.contract import BUNDLED_APIS, bundled_spec, iter_schemas, load_spec
from conformance.lint import lint_path

#: Schemas that may hold anything, by design.
SHAPELESS_BY_DESIGN = {
    # ValidationError.value echoes the rejected input, whatever its type.
    "/components/schemas/ValidationError/properties/value",
}
#: A schema with one of these says something about the shape of its value.
SHAPE_KEYWORDS = {
    "type", "$ref", "allOf", "oneOf", "anyOf", "not", "const", "enum", "properties", "items",
    "required",
}  # fmt: skip


def bundled() -> list[Any]:
    return [
        pytest.param(
            api,
            marks=pytest.mark.skipif(
                not bundled_spec(api).exists(), reason=f"{api} spec not written yet"
            ),
        )
        for api in BUNDLED_APIS
    ]


@pytest.fixture(params=bundled())
def spec_path(request: pytest.FixtureRequest) -> Path:
    return bundled_spec(request.param)


def test_bundled_spec_lints_clean(spec_path: Path) -> None:
    result = lint_path(spec_path)
    assert result.declares_contract
    assert [f"{f.rule.id} {f.pointer}: {f.message}" for f in result.findings] == []


def test_bundled_spec_has_no_shapeless_schema(spec_path: Path) -> None:
    data = load_spec(spec_path).data
    shapeless = [
        pointer
        for schema, pointer in iter_schemas(data)
        if isinstance(schema, Mapping)
        and not SHAPE_KEYWORDS & set(schema)
        and pointer not in SHAPELESS_BY_DESIGN
    ]
    assert shapeless == []


def test_bundled_spec_generates_a_case_for_every_operation(spec_path: Path) -> None:
    schema = schemathesis.openapi.from_path(spec_path)
    drawn: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(
            max_examples=2,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def draw(case: Any) -> None:
            drawn.append(case.operation.label)

        draw()
    assert set(drawn) == {op.label for op in load_spec(spec_path).operations}


def test_bundled_spec_links_are_followed_by_schemathesis(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    declared = set()
    for operation in spec.operations:
        for _status, response, _ in spec.responses(operation):
            for name in response.get("links") or {}:
                declared.add((operation.label, name))
    assert declared, "the spec declares no links for stateful testing"
    machine = schemathesis.openapi.from_path(spec_path).as_state_machine()
    # schemathesis keeps the links it will follow on the machine class (4.32: `_transitions`).
    transitions_of = machine._transitions.operations  # type: ignore[attr-defined]
    followed = {
        (label, link.name)
        for label, transitions in transitions_of.items()
        for link in transitions.outgoing
        if not link.is_inferred
    }
    assert declared <= followed

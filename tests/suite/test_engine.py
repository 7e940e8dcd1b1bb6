"""The engine's records: a failing case as plain data (the minimal example in verdict.json)."""

from __future__ import annotations

import copy
import json

import schemathesis
from schemathesis.core.parameters import DelimitedValue

from conformance.contract import bundled_spec
from conformance.suite._engine import example_of


def test_a_failing_case_becomes_plain_json_data_with_secrets_masked() -> None:
    schema = schemathesis.openapi.from_path(str(bundled_spec("tchat")))
    operation = schema["/content/sync"]["GET"]
    case = operation.Case(
        query={"since": "2026-01-01T00:00:00Z", "ids": DelimitedValue("a,b", "a,b")},
        headers={"Authorization": "Bearer a-real-token", "X-Request-ID": "r-1"},
    )
    example = example_of(case)
    # schemathesis's str subclasses (which deepcopy cannot rebuild) come out as plain str
    assert type(example["query"]["ids"]) is str
    copy.deepcopy(example)
    text = json.dumps(example)
    assert "a-real-token" not in text
    assert example["headers"] == {"Authorization": "[masked]", "X-Request-ID": "r-1"}
    assert (example["method"], example["path"]) == ("GET", "/content/sync")
    assert "body" not in example

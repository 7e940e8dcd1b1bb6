from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from schemathesis.core.deserialization import get_yaml_loader

from conformance.contract import BUNDLED_APIS, bundled_spec, read_document
from conformance.errors import NotOpenAPI, SpecNotFound, SpecSyntaxError

MINIMAL = 'openapi: 3.1.0\ninfo: {title: t, version: "1"}\npaths: {}\n'


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_document_reads_bundled_specs_as_schemathesis_does(api: str) -> None:
    path = bundled_spec(api)
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    ours = read_document(path).data
    with path.open(encoding="utf-8") as stream:
        theirs = yaml.load(stream, get_yaml_loader())
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)


def test_document_keeps_yaml_1_2_booleans_dates_and_string_keys(tmp_path: Path) -> None:
    text = MINIMAL + (
        "x-values:\n"
        "  on: yes\n"  # YAML 1.1 would read both as booleans
        "  when: 2024-01-02\n"  # and this as a date
        "  200: true\n"
        "  ratio: 1e3\n"
    )
    data = read_document(write(tmp_path, text)).data
    assert data["x-values"] == {"on": "yes", "when": "2024-01-02", "200": True, "ratio": 1000.0}


def test_document_maps_pointers_to_lines(tmp_path: Path) -> None:
    text = MINIMAL.replace("paths: {}\n", "paths:\n  /a~b/{id}:\n    get:\n      summary: x\n")
    document = read_document(write(tmp_path, text))
    assert document.line_of("/paths") == 3
    assert document.line_of("#/paths/~1a~0b~1{id}/get") == 5
    # A pointer below what the document holds falls back to its nearest ancestor.
    assert document.line_of("/paths/~1a~0b~1{id}/get/responses/200") == 5


def test_document_records_repeated_keys(tmp_path: Path) -> None:
    text = MINIMAL.replace("paths: {}\n", "paths:\n  /a:\n    get: {}\n    get: {summary: x}\n")
    document = read_document(write(tmp_path, text))
    (duplicate,) = document.duplicate_keys
    assert (duplicate.pointer, duplicate.key, duplicate.line) == ("/paths/~1a", "get", 6)
    assert document.data["paths"]["/a"]["get"] == {"summary": "x"}  # the later one wins


def test_document_expands_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = MINIMAL + "x-base: &base {a: 1, b: 2}\nx-derived: {<<: *base, b: 3}\n"
    data = read_document(write(tmp_path, text)).data
    assert data["x-derived"] == {"a": 1, "b": 3}


def test_document_reads_json_specs(tmp_path: Path) -> None:
    body = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    document = read_document(write(tmp_path, json.dumps(body), "spec.json"))
    assert document.data == body
    assert document.line_of("/paths") is None


@pytest.mark.parametrize(
    ("text", "name", "error", "reason", "line"),
    [
        ("a: [\n", "spec.yaml", SpecSyntaxError, "not valid YAML", 2),
        ('{"openapi": ', "spec.json", SpecSyntaxError, "not valid JSON", 1),
        ("", "spec.yaml", NotOpenAPI, "the file is empty", None),
        ("- a\n- b\n", "spec.yaml", NotOpenAPI, "is a list, not a mapping", None),
        ("info: {}\n", "spec.yaml", NotOpenAPI, "no 'openapi' version field", None),
        ('swagger: "2.0"\n', "spec.yaml", NotOpenAPI, "Swagger 2.0 is not supported", None),
        ("openapi: 2.5.0\n", "spec.yaml", NotOpenAPI, "openapi='2.5.0' is not a supported", 1),
        ("a:\n\tb: 1\n", "spec.yaml", SpecSyntaxError, "not valid YAML", 2),
        ("just words\n", "spec.yaml", NotOpenAPI, "the document is a string", None),
    ],
)
def test_document_rejects_what_is_not_openapi_with_one_reason(
    tmp_path: Path, text: str, name: str, error: type[Exception], reason: str, line: int | None
) -> None:
    path = write(tmp_path, text, name)
    with pytest.raises(error) as raised:
        read_document(path)
    assert reason in str(raised.value)
    assert str(raised.value).startswith(f"{path}:{line}:" if line else f"{path}:")
    assert "\n" not in str(raised.value)


def test_document_rejects_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "spec.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecSyntaxError, match="not UTF-8 text"):
        read_document(binary)
    with pytest.raises(SpecNotFound, match="no such file"):
        read_document(tmp_path / "missing.yaml")
    with pytest.raises(SpecNotFound, match="is a directory"):
        read_document(tmp_path)

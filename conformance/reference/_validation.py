"""Reading a request as its operation declares it, and rejecting what the schema rejects (400).

Validation uses jsonschema_rs with formats on: the validator schemathesis judges its own
generated data with, so that the backend and the fuzzer agree on every edge case. Parameters
are read off the wire the way schemathesis expects a server to read them (``int()`` on plain
ASCII digits, ``true``/``false``, ``form`` arrays split on commas).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from conformance.contract import Operation, Parameter, Spec, follow, join
from conformance.reference._errors import validation_failed

#: The largest body read; a larger one is 400 (CONTRACT.md §2: never 413). Far above any body
#: the specs allow in practice (a Tchat bulk update of 100 full items is under 10 MiB).
MAX_BODY_BYTES = 32 * 1024 * 1024

_NO_BODY = object()


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  #: declared header params, lower case
    body: Any = _NO_BODY

    @property
    def has_body(self) -> bool:
        return self.body is not _NO_BODY


@dataclass(frozen=True, slots=True)
class _ParameterPlan:
    parameter: Parameter
    schema: Mapping[str, Any]
    types: list[str]
    item_types: list[str]  #: for an array parameter
    explode: bool  #: an array sent as repeated ``name=`` (True) or comma separated (False)

    @property
    def where(self) -> str:
        return f"{self.parameter.location}.{self.parameter.name}"


class Validators:
    """jsonschema_rs validators for a spec's schemas, compiled on first use (about 9 ms each)."""

    def __init__(self, spec: Spec) -> None:
        self._components = spec.data.get("components", {})
        self._cache: dict[int, Any] = {}
        self._lock = threading.Lock()

    def for_schema(self, schema: Mapping[str, Any]) -> Any:
        key = id(schema)
        validator = self._cache.get(key)
        if validator is None:
            with self._lock:
                validator = self._cache.get(key)
                if validator is None:
                    root = {**schema, "components": self._components}
                    validator = jsonschema_rs.validator_for(root, validate_formats=True)
                    self._cache[key] = validator
        return validator

    def errors(self, schema: Mapping[str, Any], value: Any, where: str) -> list[dict[str, Any]]:
        """ValidationError items for ``value``; ``where`` prefixes the field (``query.page``)."""
        validator = self.for_schema(schema)
        if validator.is_valid(value):
            return []
        found = []
        for error in validator.iter_errors(value):
            pointer = join("", *error.instance_path)
            found.append(
                {
                    "field": f"{where}{pointer}" if where else pointer,
                    "message": error.message,
                    "code": type(error.kind).__name__,
                }
            )
        return found


def _types(schema: Mapping[str, Any], spec: Spec) -> list[str]:
    schema = spec.deref(schema)
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    if "enum" in schema:
        return sorted({_json_type(v) for v in schema["enum"]})
    if "const" in schema:
        return [_json_type(schema["const"])]
    return ["string"]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "null"


def read_wire(text: str, types: Sequence[str]) -> Any:
    """A parameter's text as a server reads it: a number or boolean where the schema says so."""
    if text.isascii() and "_" not in text and text == text.strip():
        if "integer" in types:
            try:
                return int(text)
            except ValueError:
                pass
        if "number" in types:
            try:
                return float(text)
            except ValueError:
                pass
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if "null" in types and text == "null":
        return None
    return text


class RequestReader:
    """Parses and validates requests for the operations of one spec."""

    def __init__(self, spec: Spec, validators: Validators) -> None:
        self.spec = spec
        self.validators = validators
        self._plans: dict[str, list[_ParameterPlan]] = {}

    def _plan(self, operation: Operation) -> list[_ParameterPlan]:
        plans = self._plans.get(operation.pointer)
        if plans is None:
            plans = []
            for parameter in operation.parameters:
                raw = self.spec.deref(follow(self.spec.data, parameter.pointer))
                schema = self.spec.deref(parameter.schema)
                default_style = "form" if parameter.location in ("query", "cookie") else "simple"
                style = raw.get("style", default_style)
                plans.append(
                    _ParameterPlan(
                        parameter=parameter,
                        schema=schema,
                        types=_types(schema, self.spec),
                        item_types=_types(schema.get("items", {}), self.spec),
                        explode=bool(raw.get("explode", style == "form")),
                    )
                )
            self._plans[operation.pointer] = plans
        return plans

    def read(
        self,
        operation: Operation,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        content_type: str | None,
        body: bytes,
    ) -> ParsedRequest:
        errors: list[dict[str, Any]] = []
        parsed = ParsedRequest()
        query_values: dict[str, list[str]] = {}
        for name, value in query:
            query_values.setdefault(name, []).append(value)
        for plan in self._plan(operation):
            parameter = plan.parameter
            if parameter.location == "path":
                raw: list[str] | None = (
                    [path_params[parameter.name]] if parameter.name in path_params else None
                )
                target = parsed.path
            elif parameter.location == "query":
                raw = query_values.get(parameter.name)
                target = parsed.query
            elif parameter.location == "header":
                sent = headers.get(parameter.name.lower())
                raw = [sent] if sent is not None else None
                target = parsed.headers
            else:
                continue
            self._parameter(plan, raw, target, errors)
        if "requestBody" in operation.definition:
            body_value = self._body(operation, content_type, body, errors)
            if body_value is not _NO_BODY:
                parsed = ParsedRequest(parsed.path, parsed.query, parsed.headers, body_value)
        if errors:
            raise validation_failed(errors[0]["message"], errors)
        return parsed

    def _parameter(
        self,
        plan: _ParameterPlan,
        raw: list[str] | None,
        target: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> None:
        parameter, where = plan.parameter, plan.where
        if raw is None:
            if parameter.required:
                errors.append({"field": where, "message": f"{where} is required"})
            return
        if "array" in plan.types:
            texts = raw if plan.explode else [part for text in raw for part in text.split(",")]
            value: Any = [read_wire(text, plan.item_types) for text in texts]
        else:
            value = read_wire(raw[0], plan.types)
        found = self.validators.errors(plan.schema, value, "")
        if found:
            for error in found:
                error["field"] = where + error["field"]
                error["message"] = f"{where}: {error['message']}"
            errors.extend(found)
            return
        target[parameter.name.lower() if parameter.location == "header" else parameter.name] = value

    def _body(
        self,
        operation: Operation,
        content_type: str | None,
        body: bytes,
        errors: list[dict[str, Any]],
    ) -> Any:
        definition = self.spec.deref(operation.definition["requestBody"])
        required = bool(definition.get("required", False))
        schema = self.spec.request_schema(operation)
        if not body:
            if required:
                errors.append({"field": "", "message": "the request needs a JSON body"})
            return _NO_BODY
        if len(body) > MAX_BODY_BYTES:
            errors.append({"field": "", "message": f"the body is over {MAX_BODY_BYTES} bytes"})
            return _NO_BODY
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            errors.append(
                {
                    "field": "",
                    "message": f"send the body as application/json, not {media_type or 'untyped'}",
                }
            )
            return _NO_BODY
        try:
            value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            errors.append({"field": "", "message": f"the body is not JSON: {exc}"})
            return _NO_BODY
        if schema is not None:
            errors.extend(self.validators.errors(self.spec.deref(schema), value, ""))
        return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")

"""The small third-party style OpenAPI documents tests write for themselves (plain OpenAPI, no
``x-`` declarations), built in Python and written where a run can read them. The pieces they
share are written once here; each test keeps what its API is (the apps that serve them are
`tests.servers`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

JSON = "application/json"

#: the contract's error body (error, code, message, statusCode), as a plain spec declares it
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "code", "message", "statusCode"],
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "statusCode": {"type": "integer"},
    },
}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: Any, description: str) -> dict[str, Any]:
    """A documented response whose JSON body has ``schema``."""
    return {"description": description, "content": {JSON: {"schema": schema}}}


def document(
    title: str,
    paths: dict[str, Any],
    components: dict[str, Any] | None = None,
    *,
    openapi: str = "3.0.3",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """An OpenAPI document of ``paths`` (and ``components``, where given)."""
    found: dict[str, Any] = {
        "openapi": openapi,
        "info": {"title": title, "version": version},
        "paths": paths,
    }
    if components is not None:
        found["components"] = components
    return found


def written(folder: Path, api: str, spec: dict[str, Any]) -> Path:
    """``spec`` as ``folder/<api>.json``: a run names the API after the file."""
    path = folder / f"{api}.json"
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return path


#: the component schemas FastAPI writes for its errors (``{"detail": …}`` and 422's list), as a
#: FastAPI-style app's spec holds them
FASTAPI_ERRORS: dict[str, Any] = {
    "HTTPError": {
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"type": "string", "title": "Detail"}},
        "title": "HTTPError",
    },
    "HTTPValidationError": {
        "type": "object",
        "properties": {
            "detail": {"type": "array", "items": ref("ValidationError"), "title": "Detail"}
        },
        "title": "HTTPValidationError",
    },
    "ValidationError": {
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "title": "Location",
            },
            "msg": {"type": "string", "title": "Message"},
            "type": {"type": "string", "title": "Error Type"},
        },
        "title": "ValidationError",
    },
}

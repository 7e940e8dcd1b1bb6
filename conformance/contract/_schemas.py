"""Where the schemas of an OpenAPI document are, and the keywords a schema may use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.contract._pointer import join

#: JSON Schema 2020-12 (core, applicator, validation, meta-data, format, content), the earlier
#: drafts' spellings that OpenAPI 3.0 documents use, and OpenAPI's own schema keywords.
SCHEMA_KEYWORDS = frozenset(
    {
        "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
        "$comment", "$defs", "$recursiveRef", "$recursiveAnchor", "definitions",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
        "prefixItems", "items", "additionalItems", "contains", "properties", "patternProperties",
        "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
        "dependentRequired", "dependencies",
        "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
        "format", "contentEncoding", "contentMediaType", "contentSchema",
        "discriminator", "xml", "externalDocs", "example", "nullable",
    }
)  # fmt: skip

_SUBSCHEMA = ("items", "additionalProperties", "not", "if", "then", "else", "contains",
              "propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems",
              "contentSchema")  # fmt: skip
_SUBSCHEMA_LISTS = ("allOf", "oneOf", "anyOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def subschemas(schema: Any, pointer: str) -> Iterator[tuple[Any, str]]:
    """``schema`` and every schema inside it, with their pointers (``$ref``s not followed)."""
    yield schema, pointer
    if not isinstance(schema, Mapping):
        return
    for key in _SUBSCHEMA:
        if isinstance(schema.get(key), Mapping):
            yield from subschemas(schema[key], join(pointer, key))
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for index, sub in enumerate(schema[key]):
                yield from subschemas(sub, join(pointer, key, index))
    for key in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(key), Mapping):
            for name, sub in schema[key].items():
                yield from subschemas(sub, join(pointer, key, name))


def iter_schemas(document: Any, pointer: str = "") -> Iterator[tuple[Any, str]]:
    """Every schema of an OpenAPI document: each component schema and each ``schema`` member of
    a parameter, header or media type, with everything inside them."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            here = join(pointer, key)
            if pointer == "/components/schemas" or (key == "schema" and isinstance(value, Mapping)):
                yield from subschemas(value, here)
            elif key not in ("example", "examples") and not str(key).startswith("x-"):
                yield from iter_schemas(value, here)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from iter_schemas(value, join(pointer, index))

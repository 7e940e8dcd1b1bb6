"""A spec read for the contract: its operations, and what each declares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.contract import _pointer
from conformance.contract._declarations import (
    ROOT_DECLARATIONS,
    AuthFlow,
    DeclarationProblem,
    Declarations,
    Ownership,
    RateLimitPolicy,
    shape_problems,
)
from conformance.contract._document import SpecDocument, read_document
from conformance.contract._overlay import Overlay, OverlayProblem, apply_overlay, load_overlay
from conformance.contract._security import SecurityScheme, alternatives, read_schemes
from conformance.errors import SpecError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_MEDIA_TYPE = "application/json"


class UnresolvedReference(LookupError):
    """A ``$ref`` that does not lead to a part of this document."""

    def __init__(self, ref: str, pointer: str, reason: str) -> None:
        self.ref = ref
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"$ref {ref!r} at {pointer or '/'} {reason}")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  #: "path", "query", "header" or "cookie"
    required: bool
    schema: Mapping[str, Any]
    pointer: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a spec, with the declarations that apply to it resolved."""

    method: str  #: lower case, as in the document
    path: str  #: the path template under ``paths`` (without the servers' base path)
    pointer: str  #: JSON pointer of the operation object
    definition: Mapping[str, Any] = field(repr=False)
    operation_id: str | None
    tags: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    #: the effective security requirements; () means the operation is public
    security: tuple[Mapping[str, Any], ...]
    #: the roles allowed; () for a public operation, None where the spec does not say
    roles: tuple[str, ...] | None
    latency_budget_ms: int | None
    rate_limit: RateLimitPolicy | None
    #: one of the security requirements is ``{}``: a caller without credentials may call it too
    anonymous_allowed: bool = False
    #: its 2xx body is an envelope around the resource (``{data: …}``): not declared bare, and
    #: its success schema declares ``data`` (`payload` reads through it)
    wrapped: bool = False

    @property
    def label(self) -> str:
        """``GET /users/{id}``: how schemathesis and the reports name the operation."""
        return f"{self.method.upper()} {self.path}"

    @property
    def module(self) -> str | None:
        return self.tags[0] if self.tags else None

    @property
    def is_public(self) -> bool:
        return not self.security

    @property
    def needs_credentials(self) -> bool:
        """A caller without credentials cannot call it (it is not public, and no requirement
        is ``{}``)."""
        return not self.is_public and not self.anonymous_allowed

    @property
    def enveloped(self) -> bool:
        """False where the operation's 2xx body is declared bare (``x-envelope: none``)."""
        return self.definition.get("x-envelope") != "none"

    def payload(self, body: Any) -> Any:
        """The resource a 2xx body of this operation carries: the envelope's ``data`` where the
        spec wraps it (`wrapped`), else the body itself. Read from the spec, not guessed from the
        body: a bare body (``x-envelope: none``, a plain spec) may have a ``data`` member of
        its own."""
        if self.wrapped and isinstance(body, Mapping) and "data" in body:
            return body["data"]
        return body

    def parameter(self, name: str, location: str) -> Parameter | None:
        lowered = name.lower() if location == "header" else name
        for parameter in self.parameters:
            candidate = parameter.name.lower() if location == "header" else parameter.name
            if parameter.location == location and candidate == lowered:
                return parameter
        return None

    @property
    def path_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "path")

    @property
    def required_parameters(self) -> tuple[Parameter, ...]:
        """The required path, query and cookie parameters: what a caller must choose a value
        for (headers are the client's own)."""
        return tuple(p for p in self.parameters if p.required and p.location != "header")


@dataclass(frozen=True, slots=True)
class Spec:
    """An OpenAPI document read for the contract."""

    document: SpecDocument
    operations: tuple[Operation, ...]
    declarations: Declarations
    #: malformed or inconsistent ``x-`` declarations (the linter reports them; a run refuses them)
    declaration_problems: tuple[DeclarationProblem, ...]
    #: ``$ref``s that lead nowhere (found while reading operations and declarations)
    unresolved: tuple[UnresolvedReference, ...]

    @property
    def path(self) -> Path:
        return self.document.path

    @property
    def overlay_problems(self) -> tuple[OverlayProblem, ...]:
        """The actions of its overlays that changed nothing or could not apply (the linter
        reports them; a run says them)."""
        return self.document.overlay_problems

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @property
    def title(self) -> str:
        return str(self.data.get("info", {}).get("title", self.path.stem))

    @property
    def version(self) -> str:
        return str(self.data.get("info", {}).get("version", ""))

    @property
    def openapi_version(self) -> str:
        return str(self.data["openapi"])

    @property
    def base_path(self) -> str:
        """The path of the first server URL (``/api/v1``), or "" where there is none."""
        servers = self.data.get("servers") or []
        if not servers or not isinstance(servers[0], Mapping):
            return ""
        return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")

    @property
    def security_schemes(self) -> dict[str, SecurityScheme]:
        """name -> scheme: ``components/securitySchemes``, typed (read on each call: a few
        entries)."""
        return read_schemes(self.data, self.deref)

    def security_alternatives(self, operation: Operation) -> tuple[tuple[SecurityScheme, ...], ...]:
        """The operation's effective security as schemes: each alternative those it needs
        together (() for a public operation; ``{}``, anonymous access, is not among them)."""
        return alternatives(operation.security, self.security_schemes)

    def without(self, operations: Iterable[Operation]) -> Spec:
        """This spec with ``operations`` left out (a run's excluded operations, `exclusions`):
        whatever reads the spec's operations (the items, the preflight, the scenarios) does not
        see them; the document is unchanged."""
        gone = {operation.pointer for operation in operations}
        kept = tuple(operation for operation in self.operations if operation.pointer not in gone)
        return replace(self, operations=kept)

    def operation(self, operation_id: str) -> Operation | None:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        return None

    def resolve(self, node: Any, pointer: str = "") -> tuple[Any, str]:
        """Follow ``$ref`` until a node that is not one; returns it and its pointer.

        Raises `UnresolvedReference` for a ref that is external, points nowhere, or loops.
        """
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#"):
                raise UnresolvedReference(ref, pointer, "is external (only '#/...' refs are read)")
            if ref in seen:
                raise UnresolvedReference(ref, pointer, "is part of a $ref loop")
            seen.add(ref)
            try:
                node = _pointer.follow(self.data, ref[1:])
            except (_pointer.PointerError, ValueError) as exc:
                raise UnresolvedReference(ref, pointer, f"leads nowhere ({exc})") from None
            pointer = ref[1:]
        return node, pointer

    def deref(self, node: Any) -> Any:
        """`resolve` without the pointer; an unresolvable ref gives an empty mapping."""
        try:
            return self.resolve(node)[0]
        except UnresolvedReference:
            return {}

    def component_name(self, node: Any) -> str | None:
        """``School`` for ``{$ref: '#/components/schemas/School'}``, else None."""
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                return _pointer.unescape(ref.rsplit("/", 1)[1])
        return None

    def component(self, name: str) -> Any:
        """The component schema ``name`` (``#/components/schemas/<name>``) as written; None when
        the spec has none of that name."""
        schemas = self.data.get("components", {}).get("schemas", {}) or {}
        return schemas.get(name) if isinstance(schemas, Mapping) else None

    def ownership(self, schema_name: str) -> Ownership | None:
        """The ``x-owner`` of the component schema ``schema_name``: whom its resources are private
        to; None where it declares none, or a malformed one (`declaration_problems` has it)."""
        found = self.component(schema_name)
        schema = self.deref(found) if found is not None else None
        if not isinstance(schema, Mapping) or "x-owner" not in schema:
            return None
        raw = schema["x-owner"]
        if shape_problems("x-owner", raw, ""):
            return None
        return Ownership.parse(raw)

    def operation_at(self, method: str, path: str) -> Operation | None:
        """The operation of ``method`` (any case) on the path template ``path``."""
        wanted = method.lower()
        for operation in self.operations:
            if operation.method == wanted and operation.path == path:
                return operation
        return None

    def links(self) -> Iterator[tuple[Operation, str]]:
        """``(operation, target operationId)`` for each link of each of its responses."""
        for operation in self.operations:
            for _, response, _ in self.responses(operation):
                links = self.deref(response.get("links") or {})
                for link in links.values() if isinstance(links, Mapping) else ():
                    link = self.deref(link)
                    if isinstance(link, Mapping) and link.get("operationId") is not None:
                        yield operation, str(link["operationId"])

    def responses(self, operation: Operation) -> Iterator[tuple[str, Mapping[str, Any], str]]:
        """``(status, response, pointer)`` for each documented response, refs followed."""
        raw = operation.definition.get("responses")
        if not isinstance(raw, Mapping):
            return
        for status, response in raw.items():
            pointer = _pointer.join(operation.pointer, "responses", status)
            resolved = self.deref(response)
            if isinstance(resolved, Mapping):
                yield str(status), resolved, pointer

    def documented_response(
        self, operation: Operation, status: int
    ) -> tuple[str, Mapping[str, Any]] | None:
        """The response the spec documents for ``status``: its own key, then its class
        (``4XX``), then ``default``; ``(key, response)`` with refs followed, or None."""
        found = {key.upper(): (key, response) for key, response, _ in self.responses(operation)}
        for key in (str(status), f"{str(status)[0]}XX", "DEFAULT"):
            if key in found:
                return found[key]
        return None

    def response_headers(self, response: Mapping[str, Any]) -> set[str]:
        """The header names a response declares, lower case."""
        headers = self.deref(response.get("headers"))
        return {str(name).lower() for name in headers} if isinstance(headers, Mapping) else set()

    def json_schema(self, holder: Mapping[str, Any]) -> Any | None:
        """The ``application/json`` schema of a response or request body (not resolved)."""
        content = self.deref(holder).get("content")
        if not isinstance(content, Mapping):
            return None
        for media_type, body in content.items():
            if media_type.split(";")[0].strip() == JSON_MEDIA_TYPE and isinstance(body, Mapping):
                return body.get("schema")
        return None

    def success_schema(self, operation: Operation) -> Any | None:
        """The JSON schema of the operation's first 2xx response that declares one (not
        resolved)."""
        for status, response, _ in self.responses(operation):
            if status.startswith("2"):
                schema = self.json_schema(response)
                if schema is not None:
                    return schema
        return None

    def request_schema(self, operation: Operation) -> Any | None:
        body = operation.definition.get("requestBody")
        return self.json_schema(body) if isinstance(body, Mapping) else None

    def properties(self, schema: Any) -> dict[str, Any]:
        """The properties a schema declares, through ``$ref`` and ``allOf``."""
        schema = self.deref(schema)
        if not isinstance(schema, Mapping):
            return {}
        found: dict[str, Any] = {}
        for part in schema.get("allOf", []) or []:
            found.update(self.properties(part))
        props = schema.get("properties")
        if isinstance(props, Mapping):
            found.update(props)
        return found

    def required(self, schema: Any) -> set[str]:
        """The properties a schema requires, through ``$ref`` and ``allOf``."""
        schema = self.deref(schema)
        if not isinstance(schema, Mapping):
            return set()
        names = {str(name) for name in schema.get("required", []) or []}
        for part in schema.get("allOf", []) or []:
            names |= self.required(part)
        return names

    def schema_at(self, schema: Any, pointer: str) -> Any | None:
        """The subschema describing the value at ``pointer`` of a body that ``schema`` describes.

        Walks properties (through ``$ref``, ``allOf``, ``oneOf``, ``anyOf``) and array items;
        None where the schema does not describe such a value.
        """
        node = schema
        for token in _pointer.split(pointer):
            node = self._child_schema(node, token)
            if node is None:
                return None
        return node

    def _child_schema(self, schema: Any, token: str) -> Any | None:
        schema = self.deref(schema)
        if not isinstance(schema, Mapping):
            return None
        if token.isdigit() and isinstance(schema.get("items"), Mapping):
            return schema["items"]
        props = self.properties(schema)
        if token in props:
            return props[token]
        for keyword in ("oneOf", "anyOf"):
            for branch in schema.get(keyword, []) or []:
                found = self._child_schema(branch, token)
                if found is not None:
                    return found
        return None


def load_spec(path: Path | str, overlays: Iterable[Path | str | Overlay] = ()) -> Spec:
    """Read the spec at ``path`` with ``overlays`` (OpenAPI Overlay files, or `Overlay`s)
    applied in order, before anything reads it; raises `SpecError` if the spec is not a
    readable OpenAPI 3 document or an overlay file is not an Overlay 1.0 document. What an
    overlay's actions could not do is `Spec.overlay_problems`."""
    document = read_document(path)
    for overlay in overlays:
        found = overlay if isinstance(overlay, Overlay) else load_overlay(overlay)
        document, _ = apply_overlay(document, found)
    return read_spec(document)


def read_spec(document: SpecDocument) -> Spec:
    data = document.data
    problems: list[DeclarationProblem] = []
    unresolved: list[UnresolvedReference] = []
    skeleton = Spec(document, (), Declarations(), (), ())

    declarations = _read_root_declarations(data, problems)
    paths = data.get("paths") or {}
    if not isinstance(paths, Mapping):
        raise SpecError(document.path, "'paths' is not a mapping", line=document.line_of("/paths"))
    operations = []
    for path, item in paths.items():
        if not isinstance(item, Mapping):
            continue
        item_pointer = _pointer.join("/paths", path)
        try:
            item, _ = skeleton.resolve(item, item_pointer)
        except UnresolvedReference as exc:
            unresolved.append(exc)
            continue
        for method in HTTP_METHODS:
            definition = item.get(method)
            if isinstance(definition, Mapping):
                operations.append(
                    _read_operation(
                        skeleton,
                        declarations,
                        str(path),
                        method,
                        item,
                        definition,
                        problems,
                        unresolved,
                    )
                )
    spec = Spec(document, tuple(operations), declarations, (), ())
    problems.extend(_auth_flow_problems(spec))
    problems.extend(_schema_declaration_problems(spec))
    return Spec(document, spec.operations, declarations, tuple(problems), tuple(unresolved))


def _read_root_declarations(
    data: Mapping[str, Any], problems: list[DeclarationProblem]
) -> Declarations:
    values: dict[str, Any] = {}
    for name in ROOT_DECLARATIONS:
        if name not in data:
            continue
        found = shape_problems(name, data[name], _pointer.join("", name))
        if name == "x-roles" and not found and not data[name]:
            found.append(
                DeclarationProblem(
                    name,
                    "/x-roles",
                    "x-roles at the root lists no role",
                    "list every role the API knows, e.g. [admin, manager, staff, service]",
                )
            )
        problems.extend(found)
        if not found:
            values[name] = data[name]
    return Declarations(
        roles=tuple(values["x-roles"]) if "x-roles" in values else None,
        auth_flow=AuthFlow.parse(values["x-auth-flow"]) if "x-auth-flow" in values else None,
        rate_limit=(
            RateLimitPolicy.parse(values["x-rate-limit"]) if "x-rate-limit" in values else None
        ),
        latency_budget_ms=values.get("x-latency-budget-ms"),
        strict=values.get("x-contract") == "strict",
    )


def _read_operation(
    spec: Spec,
    declarations: Declarations,
    path: str,
    method: str,
    item: Mapping[str, Any],
    definition: Mapping[str, Any],
    problems: list[DeclarationProblem],
    unresolved: list[UnresolvedReference],
) -> Operation:
    pointer = _pointer.join("/paths", path, method)
    parameters: dict[tuple[str, str], Parameter] = {}
    # Path-level parameters first; the operation's own override them (OpenAPI 3, 4.8.9.1).
    for owner, owner_pointer in ((item, _pointer.join("/paths", path)), (definition, pointer)):
        for index, raw in enumerate(owner.get("parameters", []) or []):
            where = _pointer.join(owner_pointer, "parameters", index)
            try:
                resolved, _ = spec.resolve(raw, where)
            except UnresolvedReference as exc:
                unresolved.append(exc)
                continue
            if not isinstance(resolved, Mapping) or "name" not in resolved or "in" not in resolved:
                continue
            location = str(resolved["in"])
            name = str(resolved["name"])
            key = (name.lower() if location == "header" else name, location)
            schema = resolved.get("schema")
            parameters[key] = Parameter(
                name=name,
                location=location,
                required=bool(resolved.get("required", location == "path")),
                schema=schema if isinstance(schema, Mapping) else {},
                pointer=where,
            )

    security = definition.get("security", spec.data.get("security", []))
    local: dict[str, Any] = {}
    for name in (
        "x-roles", "x-latency-budget-ms", "x-rate-limit", "x-envelope", "x-exclude", "x-paging"
    ):  # fmt: skip
        if name in definition:
            found = shape_problems(name, definition[name], _pointer.join(pointer, name))
            problems.extend(found)
            if not found:
                local[name] = definition[name]
    for member in ("position", "size"):  # x-paging names parameters the operation has
        named = local.get("x-paging", {}).get(member)
        if named is not None and (named, "query") not in parameters:
            problems.append(
                DeclarationProblem(
                    "x-paging",
                    _pointer.join(_pointer.join(pointer, "x-paging"), member),
                    f"x-paging {member} {named!r} is not a query parameter of the operation",
                    "name one of its query parameters",
                )
            )
    roles = tuple(local["x-roles"]) if "x-roles" in local else None
    if roles and declarations.roles is not None:
        for role in roles:
            if role not in declarations.roles:
                problems.append(
                    DeclarationProblem(
                        "x-roles",
                        _pointer.join(pointer, "x-roles"),
                        f"role {role!r} is not in the root x-roles {list(declarations.roles)}",
                        "add it to the root x-roles, or use one of those",
                    )
                )
    rate_limit = (
        RateLimitPolicy.parse(local["x-rate-limit"])
        if "x-rate-limit" in local
        else declarations.rate_limit
    )
    tags = definition.get("tags") or []
    operation = Operation(
        method=method,
        path=path,
        pointer=pointer,
        definition=definition,
        operation_id=(
            str(definition["operationId"]) if definition.get("operationId") is not None else None
        ),
        tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
        parameters=tuple(parameters.values()),
        security=tuple(req for req in security if req) if isinstance(security, list) else (),
        roles=roles,
        latency_budget_ms=local.get("x-latency-budget-ms", declarations.latency_budget_ms),
        rate_limit=rate_limit,
        anonymous_allowed=isinstance(security, list)
        and any(isinstance(req, Mapping) and not req for req in security),
    )
    return replace(operation, wrapped=_wrapped(spec, operation))


def _wrapped(spec: Spec, operation: Operation) -> bool:
    """Whether the operation's 2xx body wraps its resource in ``data``: the one reading of the
    envelope (`Operation.payload`, `item_schema_name`)."""
    schema = spec.success_schema(operation)
    return operation.enveloped and schema is not None and "data" in spec.properties(schema)


def _auth_flow_problems(spec: Spec) -> Iterator[DeclarationProblem]:
    """Does every step of x-auth-flow name a real operation whose bodies hold its pointers?"""
    flow = spec.declarations.auth_flow
    if flow is None:
        return
    # any scheme that presents a token will do: an http bearer, an apiKey (a header's prefix,
    # such as ``Token``, comes from the credentials), OAuth2
    scheme = spec.security_schemes.get(flow.scheme)
    if scheme is None or not scheme.takes_token:
        yield DeclarationProblem(
            "x-auth-flow",
            "/x-auth-flow/scheme",
            f"scheme {flow.scheme!r} is not under components/securitySchemes"
            if scheme is None
            else f"scheme {scheme.described} presents no token",
            "name the security scheme access tokens are sent with: an http bearer, an apiKey"
            " (in a header, query or cookie) or an oauth2 scheme",
        )
    for step_name, step in flow.steps.items():
        where = f"/x-auth-flow/{step_name}"
        operation = spec.operation(step.operation_id)
        if operation is None:
            yield DeclarationProblem(
                "x-auth-flow",
                f"{where}/operation",
                f"no operation has operationId {step.operation_id!r}",
                "give the operationId of the operation that does this step",
            )
            continue
        success = spec.success_schema(operation)
        for field_name in ("access_token", "refresh_token", "expires_in", "id"):
            token_pointer = getattr(step, field_name, None)
            if token_pointer is not None and spec.schema_at(success, token_pointer) is None:
                yield DeclarationProblem(
                    "x-auth-flow",
                    f"{where}/{field_name}",
                    f"{token_pointer} is not in the 2xx response of {step.operation_id}",
                    "point at the property of the response body that holds it",
                )
        request = spec.request_schema(operation)
        body_fields = {
            "username": getattr(step, "username", None),
            "password": getattr(step, "password", None),
            "token_field": getattr(step, "token_field", None),
            "role": getattr(step, "role", None),
        }
        for field_name, body_pointer in body_fields.items():
            if body_pointer is not None and spec.schema_at(request, body_pointer) is None:
                yield DeclarationProblem(
                    "x-auth-flow",
                    f"{where}/{field_name}",
                    f"{body_pointer} is not in the request body of {step.operation_id}",
                    "point at the property of the request body that carries it",
                )
        delete = getattr(step, "delete", None)
        if delete is not None:
            removal = spec.operation(delete)
            if removal is None or removal.method != "delete":
                yield DeclarationProblem(
                    "x-auth-flow",
                    f"{where}/delete",
                    f"{delete!r} is not the operationId of a DELETE operation",
                    "give the operation that deletes an account by the id the create returned",
                )
        if (
            step_name == "refresh"
            and getattr(step, "token_in", None) == "bearer"
            and (operation.is_public)
        ):
            yield DeclarationProblem(
                "x-auth-flow",
                f"{where}/token_in",
                f"the refresh token goes where an access token does (token_in: bearer), but"
                f" {step.operation_id} has no security requirement",
                "give the refresh operation the security scheme the refresh token is sent with",
            )


#: members whose values are data, not schemas
_VALUE_KEYWORDS = frozenset({"example", "examples", "default", "const", "enum"})


def _schema_declaration_problems(spec: Spec) -> Iterator[DeclarationProblem]:
    """x-unique, x-owner, x-references and x-transitions: well formed, and naming things that
    exist."""
    schemas = spec.data.get("components", {}).get("schemas", {}) or {}
    for node, pointer in _pointer.walk_mappings(spec.data, skip=_VALUE_KEYWORDS):
        if "x-unique" in node:
            where = _pointer.join(pointer, "x-unique")
            found = shape_problems("x-unique", node["x-unique"], where)
            yield from found
            if not found:
                props = spec.properties(node)
                for entry in node["x-unique"]:
                    for name in [entry] if isinstance(entry, str) else entry:
                        if name not in props:
                            yield DeclarationProblem(
                                "x-unique",
                                where,
                                f"x-unique names {name!r}, not a property here",
                                "list properties that the schema declares",
                            )
        if "x-owner" in node:
            yield from _owner_problems(spec, node, _pointer.join(pointer, "x-owner"))
        if "x-references" in node:
            where = _pointer.join(pointer, "x-references")
            found = shape_problems("x-references", node["x-references"], where)
            yield from found
            if not found and node["x-references"] not in schemas:
                yield DeclarationProblem(
                    "x-references",
                    where,
                    f"x-references names {node['x-references']!r}, not a schema under"
                    " components/schemas",
                    "name the component schema of the resource whose id this holds",
                )
        if "x-transitions" in node:
            yield from _transition_problems(node, _pointer.join(pointer, "x-transitions"))


def _owner_problems(
    spec: Spec, node: Mapping[str, Any], where: str
) -> Iterator[DeclarationProblem]:
    found = shape_problems("x-owner", node["x-owner"], where)
    yield from found
    if found:
        return
    ownership = Ownership.parse(node["x-owner"])
    props = spec.properties(node)
    named = [(ownership.property, _pointer.join(where, "property"))]
    named += [(name, _pointer.join(where, "while", name)) for name in ownership.while_]
    for name, at in named:
        if name not in props:
            yield DeclarationProblem(
                "x-owner",
                at,
                f"x-owner names {name!r}, not a property here",
                "name a top-level property that the schema declares",
            )


def _transition_problems(node: Mapping[str, Any], where: str) -> Iterator[DeclarationProblem]:
    found = shape_problems("x-transitions", node["x-transitions"], where)
    yield from found
    if found:
        return
    states = node.get("enum")
    if not isinstance(states, list):
        yield DeclarationProblem(
            "x-transitions",
            where,
            "x-transitions is declared on a schema without an enum",
            "put x-transitions beside the enum of the states",
        )
        return
    for source, targets in node["x-transitions"].items():
        for state in [source, *targets]:
            if state not in states:
                yield DeclarationProblem(
                    "x-transitions",
                    _pointer.join(where, source),
                    f"{state!r} is not one of the states {states}",
                    "use only values of the enum beside it",
                )

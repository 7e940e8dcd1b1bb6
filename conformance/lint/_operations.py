"""CT9xx: what the suite needs of every operation: an id, a module, and links to follow."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.contract import Operation, join
from conformance.lint._model import LintContext, Problem, rule
from conformance.lint._predicates import (
    referencing_properties,
    success_responses,
)


@rule("CT901")
def operation_id(ctx: LintContext) -> Iterator[Problem]:
    first: dict[str, Operation] = {}
    for operation in ctx.operations():
        if operation.operation_id is None:
            yield Problem(
                operation.pointer,
                f"{operation.label} has no operationId (reports, -k and links need one)",
                "add a camelCase operationId, e.g. getUser",
            )
        elif operation.operation_id in first:
            yield Problem(
                join(operation.pointer, "operationId"),
                f"operationId {operation.operation_id!r} of {operation.label} is also that of"
                f" {first[operation.operation_id].label}",
                "give each operation its own operationId",
                unsound=True,  # OpenAPI: an operationId is unique among all operations
            )
        else:
            first[operation.operation_id] = operation


@rule("CT902")
def one_tag(ctx: LintContext) -> Iterator[Problem]:
    declared = {
        str(tag.get("name")) for tag in ctx.spec.data.get("tags") or [] if isinstance(tag, Mapping)
    }
    for operation in ctx.operations():
        if len(operation.tags) != 1:
            yield Problem(
                join(operation.pointer, "tags") if operation.tags else operation.pointer,
                f"{operation.label} has {len(operation.tags)} tags; reports group by one module",
                "give it exactly one tag, the module it belongs to",
            )
        elif operation.tags[0] not in declared:
            yield Problem(
                join(operation.pointer, "tags"),
                f"tag {operation.tags[0]!r} of {operation.label} is not declared in the root tags",
                f"add {{name: {operation.tags[0]}, description: ...}} to the root `tags`",
            )


def _links(ctx: LintContext, operation: Operation) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """``(name, link, pointer)`` for every link of the operation's 2xx responses."""
    for _, response, pointer in success_responses(ctx.spec, operation):
        links = response.get("links")
        if isinstance(links, Mapping):
            for name, link in links.items():
                link = ctx.spec.deref(link)
                if isinstance(link, Mapping):
                    yield str(name), link, join(pointer, "links", name)


def _parameter_names(operation: Operation) -> set[str]:
    return {p.name for p in operation.parameters}


@rule("CT903")
def links_crud(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    for operation in ctx.operations():
        for name, link, pointer in _links(ctx, operation):
            target_id = link.get("operationId")
            target = spec.operation(str(target_id)) if target_id is not None else None
            if target is None:
                yield Problem(
                    pointer,
                    f"link {name} of {operation.label} leads to no operation"
                    f" ({target_id or link.get('operationRef')!r})",
                    "name an existing operationId",
                    unsound=True,  # a link that leads nowhere is a broken reference
                )
                continue
            for parameter in link.get("parameters") or {}:
                bare = str(parameter).split(".", 1)[-1]
                if bare not in _parameter_names(target):
                    yield Problem(
                        join(pointer, "parameters", parameter),
                        f"link {name} sets {parameter!r}, which {target.label} does not take",
                        f"use one of {sorted(_parameter_names(target))}",
                        unsound=True,
                    )
    for resource in ctx.resources:
        create = resource.create
        if create is None:
            continue
        linked = {str(link.get("operationId")) for _, link, _ in _links(ctx, create)}
        for target in resource.item_operations:
            if target.operation_id is not None and target.operation_id not in linked:
                yield Problem(
                    join(create.pointer, "responses"),
                    f"{create.label} has no link to {target.label} ({target.operation_id}):"
                    " stateful testing cannot reach it with an id that exists",
                    f"add a link to {target.operation_id} with its path parameter from"
                    " $response.body",
                )


@rule("CT904")
def links_parent(ctx: LintContext) -> Iterator[Problem]:
    spec = ctx.spec
    creates_by_schema = {
        resource.schema_name: resource.create
        for resource in ctx.resources
        if resource.schema_name and resource.create is not None
    }
    for resource in ctx.resources:
        child = resource.create
        request = spec.request_schema(child) if child is not None else None
        if child is None or request is None:
            continue
        for where, parent_schema in referencing_properties(spec, request):
            parent = creates_by_schema.get(parent_schema)
            if parent is None or parent is child:
                continue
            linked = {str(link.get("operationId")) for _, link, _ in _links(ctx, parent)}
            if child.operation_id not in linked:
                yield Problem(
                    join(parent.pointer, "responses"),
                    f"{parent.label} creates a {parent_schema}, whose id {child.label} takes"
                    f" (body {where}), but does not link to it",
                    f"add a link to {child.operation_id} with requestBody"
                    f" {{{where.strip('/')}: '$response.body#/data/id'}}",
                )

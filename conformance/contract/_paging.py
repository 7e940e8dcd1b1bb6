"""How a list operation pages and filters, read from its parameters on any spec (issue 26).

The bundled specs page as CONTRACT.md §3 says (``page`` and ``limit``, a ``PaginatedResponse``);
a third-party spec is read for the usual conventions: a page number (``page``) with a page size
(``limit``, ``per_page``, ``page_size``, ``size``…), or an offset (``offset``, ``skip``) with a
limit. A cursor (``cursor``, ``after``, ``page_token``) is recognised and said to be one: a walk
by cursor follows what each answer names as the next (`next_cursor` and the like, or a ``Link``
header), which the answer tells, not the spec. Filters are the other query parameters whose name
is a member of the listed item with a value one can state exactly: an enum, a boolean, a
reference id (``schoolId``, ``team_id``), an integer. What cannot be inferred is left out, or
declared on the operation (``x-paging``, in the spec or an overlay: the parameters by name,
where the answer keeps its items, total and next cursor by JSON pointer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance.contract._spec import Operation, Parameter, Spec

#: page-number parameters, and the page-size parameters that go with them or with an offset
PAGE_NAMES = ("page", "page_number", "pageNumber")
SIZE_NAMES = ("limit", "per_page", "perPage", "page_size", "pageSize", "size", "count")
OFFSET_NAMES = ("offset", "skip", "start")
CURSOR_NAMES = ("cursor", "after", "page_token", "pageToken", "next_token", "starting_after")
#: query parameters that are never filters (paging, sorting, free text, formats)
NOT_FILTERS = frozenset(
    {*PAGE_NAMES, *SIZE_NAMES, *OFFSET_NAMES, *CURSOR_NAMES, "search", "q", "query", "sort",
     "sortBy", "sort_by", "sortOrder", "sort_order", "order", "orderBy", "order_by", "fields",
     "expand", "include", "format", "startDate", "endDate"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Paging:
    """How one list operation pages: ``style`` is ``page``, ``offset`` or ``cursor``."""

    style: str
    #: the page-size parameter (None: the API's own page size, which a walk cannot choose)
    size: Parameter | None
    #: the page number's, the offset's or the cursor's parameter
    position: Parameter
    #: where the answer keeps its items, its total and its next cursor (JSON pointers), as
    #: ``x-paging`` declares them (None: looked for by the usual names)
    items: str | None = None
    total: str | None = None
    next: str | None = None

    @property
    def smallest(self) -> int:
        """The smallest page size the spec allows (1 where it says nothing)."""
        return _number(self.size.schema, "minimum", 1) if self.size is not None else 1

    def fitted(self, wanted: int) -> int:
        """``wanted`` as a page size within the bounds the spec gives its parameter."""
        largest = _number(self.size.schema, "maximum", wanted) if self.size is not None else wanted
        return max(self.smallest, min(largest, wanted))

    def query(self, page: int, size: int) -> dict[str, Any]:
        """The query of the ``page``-th page (from 1) of ``size`` items (page and offset styles)."""
        found: dict[str, Any] = {}
        if self.size is not None:
            found[self.size.name] = size
        if self.style == "page":
            base = _number(self.position.schema, "minimum", 1)
            found[self.position.name] = page - 1 + (0 if base == 0 else 1)
        elif self.style == "offset":
            found[self.position.name] = (page - 1) * size
        return found


@dataclass(frozen=True, slots=True)
class Filter:
    """A query parameter that keeps the items whose member of the same name equals its value."""

    parameter: Parameter
    #: the listed item's member it filters on
    member: str
    #: "enum", "boolean", "reference" or "integer": how its meaning is known
    meaning: str


def paging(operation: Operation) -> Paging | None:
    """How ``operation`` pages: as its ``x-paging`` declares (the spec's, or an overlay's),
    else as its parameters' names say; None when neither says anything the walk can use."""
    query = {p.name: p for p in operation.parameters if p.location == "query"}
    declared = operation.definition.get("x-paging")
    if isinstance(declared, Mapping) and declared.get("position") in query:
        size = query.get(str(declared.get("size")))
        return Paging(
            str(declared.get("style")),
            size,
            query[str(declared["position"])],
            items=declared.get("items"),
            total=declared.get("total"),
            next=declared.get("next"),
        )
    size = next((query[name] for name in SIZE_NAMES if name in query), None)
    for name in PAGE_NAMES:
        if name in query:
            return Paging("page", size, query[name])
    for name in OFFSET_NAMES:
        if name in query and size is not None:
            return Paging("offset", size, query[name])
    for name in CURSOR_NAMES:
        if name in query:
            return Paging("cursor", size, query[name])
    return None


def filters(spec: Spec, operation: Operation, item: Mapping[str, Any]) -> list[Filter]:
    """The query parameters of ``operation`` that filter on a member of the listed item (``item``:
    its schema's properties), where their meaning can be stated exactly."""
    found: list[Filter] = []
    for parameter in operation.parameters:
        if parameter.location != "query" or parameter.name in NOT_FILTERS:
            continue
        if parameter.name not in item:
            continue
        meaning = _meaning(parameter.name, spec.deref(parameter.schema))
        if meaning is not None:
            found.append(Filter(parameter, parameter.name, meaning))
    return found


def _meaning(name: str, schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list):
        return "enum"
    if kind == "boolean":
        return "boolean"
    if kind in ("string", "integer", None) and (name.endswith(("Id", "_id")) and name != "id"):
        return "reference"
    if kind == "integer":
        return "integer"
    return None


def _number(schema: Mapping[str, Any], key: str, default: int) -> int:
    """The schema's ``key`` (``minimum``, ``maximum``) as an integer, else ``default``."""
    value = schema.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return default


#: the parameter that names the member a list is sorted by, and the one that names the order
SORT_NAMES = ("sortBy", "sort_by", "orderBy", "order_by", "sort")
ORDER_NAMES = ("sortOrder", "sort_order", "order", "direction", "dir")


@dataclass(frozen=True, slots=True)
class Sorting:
    """A stated sort order: ``by`` names one of ``members`` (the listed item's), ``order`` takes
    ``asc`` or ``desc``."""

    by: Parameter
    order: Parameter
    members: tuple[str, ...]


def sorting(spec: Spec, operation: Operation, item: Mapping[str, Any]) -> Sorting | None:
    """How ``operation`` is told to sort, where both the member (an enum of the item's members)
    and the direction (an enum with ``asc`` and ``desc``) are parameters of its own."""
    query = {p.name: p for p in operation.parameters if p.location == "query"}
    by = next((query[name] for name in SORT_NAMES if name in query), None)
    order = next((query[name] for name in ORDER_NAMES if name in query), None)
    if by is None or order is None:
        return None
    members = spec.deref(by.schema).get("enum") or []
    directions = spec.deref(order.schema).get("enum") or []
    named = tuple(str(m) for m in members if m in item)
    if not named or not {"asc", "desc"} <= set(directions):
        return None
    return Sorting(by, order, named)

"""Reading a spec and its ``x-`` declarations: the one module the suite and the reference backend
share (see ARCHITECTURE.md). It imports nothing else of conformance but `conformance.errors`.
"""

from __future__ import annotations

from conformance.contract._bundled import BUNDLED_APIS, bundled_spec, specs_dir
from conformance.contract._conditional import IfMatch
from conformance.contract._danger import danger, dangerous_operations
from conformance.contract._declarations import (
    ROOT_DECLARATIONS,
    AccountStep,
    AuthFlow,
    DeclarationProblem,
    Declarations,
    LoginStep,
    Ownership,
    RateLimit,
    RateLimitPolicy,
    RefreshStep,
    TokenStep,
)
from conformance.contract._document import (
    DuplicateKey,
    SpecDocument,
    parse_document,
    parse_text,
    read_document,
)
from conformance.contract._exclusion import (
    ExcludedBy,
    Exclusion,
    Selector,
    check_selectors,
    declared_exclusion,
    exclusions,
)
from conformance.contract._overlay import (
    Overlay,
    OverlayAction,
    OverlayProblem,
    apply_overlay,
    load_overlay,
    read_overlay,
)
from conformance.contract._paging import Filter, Paging, Sorting, filters, paging, sorting
from conformance.contract._pointer import PointerError, follow, join, walk_mappings
from conformance.contract._resources import (
    Resource,
    Singleton,
    is_template,
    item_schema_name,
    normalized_template,
    resources,
    singletons,
)
from conformance.contract._schemas import SCHEMA_KEYWORDS, iter_schemas, subschemas
from conformance.contract._security import OAuthFlow, SecurityScheme
from conformance.contract._spec import (
    HTTP_METHODS,
    Operation,
    Parameter,
    Spec,
    UnresolvedReference,
    load_spec,
    read_spec,
)

__all__ = [
    "BUNDLED_APIS",
    "HTTP_METHODS",
    "ROOT_DECLARATIONS",
    "SCHEMA_KEYWORDS",
    "AccountStep",
    "AuthFlow",
    "DeclarationProblem",
    "Declarations",
    "DuplicateKey",
    "ExcludedBy",
    "Exclusion",
    "Filter",
    "IfMatch",
    "LoginStep",
    "OAuthFlow",
    "Operation",
    "Overlay",
    "OverlayAction",
    "OverlayProblem",
    "Ownership",
    "Paging",
    "Parameter",
    "PointerError",
    "RateLimit",
    "RateLimitPolicy",
    "RefreshStep",
    "Resource",
    "SecurityScheme",
    "Selector",
    "Singleton",
    "Sorting",
    "Spec",
    "SpecDocument",
    "TokenStep",
    "UnresolvedReference",
    "apply_overlay",
    "bundled_spec",
    "check_selectors",
    "danger",
    "dangerous_operations",
    "declared_exclusion",
    "exclusions",
    "filters",
    "follow",
    "is_template",
    "item_schema_name",
    "iter_schemas",
    "join",
    "load_overlay",
    "load_spec",
    "normalized_template",
    "paging",
    "parse_document",
    "parse_text",
    "read_document",
    "read_overlay",
    "read_spec",
    "resources",
    "singletons",
    "sorting",
    "specs_dir",
    "subschemas",
    "walk_mappings",
]

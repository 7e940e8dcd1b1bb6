"""Every rule the suite judges by, listed once: its id, the contract's words, its severity, its
category, what kind of rule it is, and when it applies.

Everything else derives from this list: the checks registered with schemathesis, the scenarios'
rule ids (checked at import), Allure's severity and categories, JUnit's case names, the summary's
failures by rule, waiver validation, the self-test's expectations, the linter's rules and the
spec diff's (``conformance diff``).

**When a rule applies.** schemathesis's own checks and ``no_leaks`` apply to every answer of
every API, as in ``st run``. The contract's header and body rules apply where the spec declares
what they check, decided per documented response (`applies`): ``request_id`` where the response
declares ``X-Request-ID``, ``nosniff`` where it declares ``X-Content-Type-Options``,
``rate_limit_headers`` where it declares an ``X-RateLimit-*`` header or the operation an
``x-rate-limit`` (a 429's body members only where its schema declares them), ``error_envelope``
where the error response's schema declares ``code``, ``message`` and ``statusCode``,
``pagination`` where the success schema declares the page's members. A spec opts into the whole
strict set with one root declaration, ``x-contract: strict`` (the bundled specs do): then every
contract rule holds on every answer, and an operation never answered with a documented 2xx fails
the gate (``exercised``). A scenario's rules apply where its scenario runs: the scenario says
what it needs from the spec and is skipped, with the reason, without it. A lint rule of the
house style is a note on a spec without the strict opt-in.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.contract import Operation, Spec


class Kind(enum.StrEnum):
    """What judges by the rule."""

    SCHEMATHESIS = "schemathesis"  #: schemathesis's own check, as ``st run`` runs it
    CHECK = "check"  #: ours, registered with schemathesis (`conformance.checks`)
    GATE = "gate"  #: a rule of the verdict itself (an operation must be exercised)
    SCENARIO = "scenario"  #: a scripted scenario's claim (`conformance.suite.scenarios`)
    PROBE = "probe"  #: a security probe
    LINT = "lint"  #: a rule of the spec linter (`conformance.lint`)
    DIFF = "diff"  #: a change between two specs that old clients feel (`conformance.diffing`)


class Severity(enum.StrEnum):
    """Allure's levels, worst first: a 5xx and a leak before a missing header."""

    BLOCKER = "blocker"
    CRITICAL = "critical"
    NORMAL = "normal"
    MINOR = "minor"
    TRIVIAL = "trivial"

    @property
    def rank(self) -> int:
        """0 for the worst; sorts failures worst first."""
        return list(Severity).index(self)


class Scope(enum.StrEnum):
    """When a rule applies (the module's docstring)."""

    EVERYWHERE = "everywhere"  #: every answer of every API
    DECLARED = "declared"  #: where the spec declares what it checks, or under x-contract: strict
    STRICT = "strict"  #: only under x-contract: strict
    SCENARIO = "scenario"  #: where its scenario runs (the scenario names what it needs)


#: the OWASP API Security Top 10 (2023): a security finding names its category
OWASP: Mapping[str, str] = {
    "API1": "API1:2023 Broken Object Level Authorization",
    "API2": "API2:2023 Broken Authentication",
    "API3": "API3:2023 Broken Object Property Level Authorization",
    "API4": "API4:2023 Unrestricted Resource Consumption",
    "API5": "API5:2023 Broken Function Level Authorization",
    "API6": "API6:2023 Unrestricted Access to Sensitive Business Flows",
    "API7": "API7:2023 Server Side Request Forgery",
    "API8": "API8:2023 Security Misconfiguration",
    "API9": "API9:2023 Improper Inventory Management",
    "API10": "API10:2023 Unsafe Consumption of APIs",
}

#: Allure's failure categories (and the summary's), in the order a failure is matched to one
CATEGORIES = (
    *OWASP.values(),
    "Server error",
    "Information leak",
    "Auth",
    "Concurrency",
    "Rate limit",
    "Latency budget",
    "Schema",
    "Input validation",
    "Not exercised",
    "Spec",
    "Contract violation",
)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: Kind
    #: the contract's words for it (CONTRACT.md's section first where it has one)
    words: str
    severity: Severity
    category: str
    scope: Scope
    #: a lint rule's name (``input-400``), beside its id (``CT201``)
    name: str = ""
    #: a warning: its findings are reported and never fail the gate (a timing-based probe's, a
    #: spec change that breaks no client for certain)
    warning: bool = False
    #: the OWASP API Security Top 10 (2023) category its findings fall under (`OWASP`), or ""
    owasp: str = ""

    @property
    def owasp_name(self) -> str:
        """``API1:2023 Broken Object Level Authorization`` for ``API1``; "" for none."""
        return OWASP.get(self.owasp, "")

    @property
    def section(self) -> str:
        """The CONTRACT.md section (``§4``), or "" for a rule not from it."""
        found = re.match(r"§\d+", self.words)
        return found.group(0) if found else ""


def _rules(kind: Kind, scope: Scope, *rows: tuple[str, Severity, str, str]) -> list[Rule]:
    return [
        Rule(id, kind, words, severity, category, scope) for id, severity, category, words in rows
    ]


B, C, N, M = Severity.BLOCKER, Severity.CRITICAL, Severity.NORMAL, Severity.MINOR

_LIST: list[Rule] = [
    *_rules(
        Kind.SCHEMATHESIS,
        Scope.EVERYWHERE,
        ("not_a_server_error", B, "Server error", "§2 never a 5xx"),
        ("status_code_conformance", N, "Schema", "§2 only documented status codes"),
        ("content_type_conformance", N, "Schema", "§1 the media type the response documents"),
        ("response_headers_conformance", N, "Schema", "§1 the headers a response requires"),
        ("response_schema_conformance", N, "Schema", "§1 a body matches its documented schema"),
        ("negative_data_rejection", N, "Input validation", "§2 a request the schema rejects is"
         " refused with a 4xx"),
        ("positive_data_acceptance", N, "Input validation", "§2 a request the schema accepts is"
         " not refused as invalid"),
        ("missing_required_header", N, "Input validation", "§2 a request without a required"
         " header is refused"),
        ("unsupported_method", M, "Contract violation", "§2 a method the path does not document"
         " is 405"),
        ("allow_header_conformance", M, "Contract violation", "§2 a 405 lists the allowed methods"
         " in Allow"),
        ("use_after_free", C, "Concurrency", "§2 a deleted resource is 404 from then on"),
        ("ensure_resource_availability", C, "Concurrency", "§2 a created resource can be read"),
        ("ignored_auth", B, "Auth", "§4 an operation that needs credentials refuses a request"
         " without them"),
        ("object_level_authorization", B, "Auth", "§4 one user cannot reach another user's"
         " resources"),
    ),
    *_rules(
        Kind.CHECK,
        Scope.DECLARED,
        ("error_envelope", N, "Contract violation", "§1 an error answers an ErrorResponse whose"
         " statusCode is the status"),
        ("pagination", N, "Contract violation", "§3 a page's counters agree with each other and"
         " with its items"),
        ("request_id", M, "Contract violation", "§8 X-Request-ID echoed, and equal to the body's"
         " requestId"),
        ("nosniff", M, "Contract violation", "§8 X-Content-Type-Options: nosniff on every"
         " answer"),
        ("rate_limit_headers", M, "Rate limit", "§6 X-RateLimit-* on every answer; a 429"
         " carries Retry-After"),
    ),
    *_rules(
        Kind.CHECK,
        Scope.EVERYWHERE,
        ("no_leaks", C, "Information leak", "§8 no stack trace, SQL or server path in a body the"
         " request did not put there"),
    ),
    *_rules(
        Kind.GATE,
        Scope.STRICT,
        ("exercised", N, "Not exercised", "§2 every operation answers a documented 2xx to a"
         " valid request"),
    ),
    *_rules(
        Kind.SCENARIO,
        Scope.SCENARIO,
        # §4 authentication
        ("login-pair", N, "Auth", "§4 login returns an access token, a refresh token and"
         " expiresIn"),
        ("token-works", N, "Auth", "§4 a valid access token is accepted"),
        ("no-store", N, "Auth", "§4 token responses carry Cache-Control: no-store"),
        ("expired-401", B, "Auth", "§4 an expired access token is 401 TOKEN_EXPIRED"),
        ("www-authenticate", N, "Auth", "§4 a 401 carries the WWW-Authenticate challenge RFC"
         " 6750 asks for"),
        ("refresh-rotates", C, "Auth", "§4 a refresh returns a new pair and the old refresh"
         " token stops working"),
        ("reuse-revokes-family", B, "Auth", "§4 a reused refresh token revokes its whole"
         " family"),
        ("single-flight", C, "Auth", "§4 of concurrent refreshes of one token exactly one"
         " succeeds"),
        ("logout-revokes", B, "Auth", "§4 logout revokes the access and the refresh token at"
         " once"),
        ("bad-token-401", B, "Auth", "§4 a malformed, tampered, unsigned or wrongly signed token"
         " is 401"),
        ("no-credentials-401", B, "Auth", "§4 no credentials is 401 with the bare challenge"
         " `Bearer`"),
        ("role-403", B, "Auth", "§4 a valid token without one of the operation's x-roles is 403"
         " FORBIDDEN"),
        ("owner-recorded", N, "Auth", "§4 a private resource (x-owner) is private to the user it"
         " was made for"),
        ("owner-reads", N, "Auth", "§4 a user reads their own private resources"),
        ("private-404", B, "Auth", "§4 another user's private resource is 404 and not listed; it"
         " cannot be changed or deleted"),
        ("admin-reads-all", N, "Auth", "§4 admins read every user's resources"),
        # §2 status codes
        ("invalid-400", N, "Input validation", "§2 a value the schema rejects is 400"
         " VALIDATION_FAILED"),
        ("unknown-reference-404", N, "Contract violation", "§2 an unknown id referenced from the"
         " body is 404 NOT_FOUND"),
        # §5 optimistic concurrency
        ("etag-version", N, "Concurrency", '§5 each single-resource response carries ETag:'
         ' "<version>"'),
        ("version-increments", N, "Concurrency", "§5 version starts at 1 and rises by 1 on every"
         " successful change"),
        ("converges", N, "Concurrency", "§5 a successful mutation answers the stored resource:"
         " the client's optimistic state, version + 1"),
        ("created-once", N, "Concurrency", "§5 a create answers the real id, and the list then"
         " holds it exactly once"),
        # §3 collections, across requests (the collections scenario)
        ("deleted-unlisted", C, "Contract violation", "§3 a deleted resource is on no page of"
         " the list, and its GET is 404"),
        ("listed-as-read", N, "Contract violation", "§3 a listed item shows what its GET"
         " shows, member for member"),
        ("pages-partition", N, "Contract violation", "§3 walking every page yields each item"
         " once, none missing, as many as total, the page counters agreeing with the walk, a"
         " stated sort order holding across pages"),
        ("filter-holds", N, "Contract violation", "§3 every item of a filtered list satisfies"
         " the filter, and total counts the filtered set"),
        ("rejected-unchanged", C, "Concurrency", "§5 a rejected mutation leaves the resource as"
         " it was, version and ETag included"),
        ("stale-409", C, "Concurrency", "§5 a stale version is 409 VERSION_CONFLICT with"
         " details.currentVersion, and nothing changes"),
        ("one-of-concurrent", C, "Concurrency", "§5 of N concurrent updates from the same version"
         " exactly one succeeds"),
        ("if-match-disagrees-400", N, "Concurrency", "§5 an If-Match and a body version that"
         " differ are 400"),
        ("stale-delete-409", C, "Concurrency", "§5 a DELETE with a stale If-Match is 409, and"
         " the resource stays"),
        ("deleted-404", C, "Concurrency", "§2 a DELETE with the current If-Match answers 204,"
         " and the deleted resource is 404 from then on"),
        ("duplicate-409", C, "Concurrency", "§5 a create or update that breaks a uniqueness rule"
         " is 409 DUPLICATE and changes nothing"),
        ("bulk-per-item", N, "Concurrency", "§5 a bulk update applies the good items and reports"
         " each failing one, unchanged"),
        # §6 rate limits
        ("rate-limit-headers", M, "Rate limit", "§6 every response carries X-RateLimit-Limit,"
         " -Remaining and -Reset"),
        ("remaining-monotonic", M, "Rate limit", "§6 X-RateLimit-Remaining never rises inside a"
         " window"),
        ("limit-enforced", N, "Rate limit", "§6 the request over the limit is 429"),
        ("rate-limited-answer", N, "Rate limit", "§6 a 429 carries Retry-After, RATE_LIMITED"
         " and retryable: true"),
        ("auth-before-limit", C, "Rate limit", "§4 authentication is decided before rate"
         " limiting: 401, never 429"),
        ("per-principal", N, "Rate limit", "§6 one principal's exhaustion does not limit"
         " another's"),
        ("limit-recovers", N, "Rate limit", "§6 after Retry-After has passed, requests succeed"
         " again"),
        ("login-limit", N, "Rate limit", "§6 login has its own, stricter limit"),
        # §7 latency
        ("latency-budget", M, "Latency budget", "§7 the p95 of an operation's successful"
         " responses is within its budget"),
    ),
]  # fmt: skip


def _probes(*rows: tuple[str, Severity, str, str, bool]) -> list[Rule]:
    """The security probes' rules: (id, severity, OWASP id, words, warning); their category is
    the OWASP category's name. Blocker is OWASP's "critical", critical its "high"; a warning
    (a timing-based finding, one that may be by design) is reported and never fails the gate."""
    return [
        Rule(id, Kind.PROBE, words, severity, OWASP[owasp], Scope.SCENARIO, "", warning, owasp)
        for id, severity, owasp, words, warning in rows
    ]


W = True  # a warning
_LIST += _probes(
    # API1 broken object level authorization
    ("bola-write", B, "API1", "another user cannot change or delete a user's resource, by id or"
     " by key, nor name it in a write of their own", False),
    ("bola-read", B, "API1", "another user cannot read a user's resource where it is owned"
     " (x-owner) or left out of the other user's own list", False),
    # API2 broken authentication
    ("user-enumeration", C, "API2", "a login with an unknown user and one with a wrong password"
     " answer alike, in status and body", False),
    ("user-enumeration-timing", M, "API2", "a login with an unknown user takes as long as one"
     " with a wrong password (a warning: timing depends on the machine)", W),
    ("login-throttling", N, "API2", "repeated wrong passwords for one account are throttled"
     " (429) or locked out", False),
    ("weak-jwt-secret", B, "API2", "a JWT is not signed with an HMAC key from a dictionary of"
     " common secrets", False),
    ("forged-token-401", B, "API2", "a token with alg none, a stripped signature or a changed"
     " payload is refused with 401", False),
    # API3 broken object property level authorization
    ("mass-assignment", C, "API3", "a property the request schema does not offer (admin, role,"
     " another schema's member) sent on create, register or update does not stick", False),
    ("secret-exposed", C, "API3", "no answer carries a password, a hash, a key or another user's"
     " token", False),
    ("undeclared-fields", M, "API3", "an answer carries only the members its schema declares (a"
     " warning: a schema may be open by design)", W),
    # API4 unrestricted resource consumption
    ("maximum-enforced", N, "API4", "a documented maximum (a page size's, a string's maxLength)"
     " is enforced: refused with a 4xx, or clamped", False),
    ("slow-input", M, "API4", "a crafted long input does not make an answer much slower than the"
     " operation's own baseline (a warning: timing depends on the machine)", W),
    # API5 broken function level authorization
    ("function-level-403", B, "API5", "an operation for privileged users (x-roles, or admin by"
     " its path or tag) refuses an unprivileged account", False),
    # API8 security misconfiguration
    ("injection-signal", B, "API8", "SQL or NoSQL metacharacters in a parameter give neither a"
     " 5xx nor a database error text", False),
    ("debug-endpoint", C, "API8", "no debug or diagnostic endpoint (documented or conventional)"
     " answers data", False),
)  # fmt: skip

#: lint rules: (id, name, words, scope); a house-style rule (STRICT) is a note on a spec
#: without ``x-contract: strict``, a rule of the document's soundness is a finding on any spec
_LINT: tuple[tuple[str, str, Scope, str], ...] = (
    ("CT001", "yaml-duplicate-key", Scope.EVERYWHERE,
     "a mapping does not repeat a key (YAML keeps only the last)"),
    ("CT002", "ref-unresolved", Scope.EVERYWHERE,
     "every $ref leads to a part of the same document"),
    ("CT003", "openapi-schema", Scope.EVERYWHERE,
     "the document is valid OpenAPI 3.0/3.1 (openapi-spec-validator)"),
    ("CT004", "unknown-keyword", Scope.EVERYWHERE,
     "a schema uses only JSON Schema and OpenAPI keywords (and x- extensions): validators "
     "ignore anything else"),
    ("CT005", "overlay-action", Scope.EVERYWHERE,
     "every action of an OpenAPI Overlay applied to the spec changes it: its target is "
     "JSONPath that selects a part of the spec, and its update fits what it selects"),
    ("CT101", "error-schema", Scope.STRICT,
     "components/schemas/ErrorResponse has the contract's fields and codes, and nothing else"),
    ("CT102", "error-responses", Scope.STRICT,
     "every 4xx/5xx response is an application/json ErrorResponse whose statusCode fits"),
    ("CT103", "success-envelope", Scope.STRICT,
     "every JSON 2xx body is an ApiResponse {data, timestamp} or a PaginatedResponse, unless "
     "the operation says x-envelope: none"),
    ("CT104", "no-content", Scope.STRICT,
     "DELETE answers 204, and a 204 has no body"),
    ("CT201", "input-400", Scope.STRICT,
     "an operation that takes input (parameters or a body) documents 400"),
    ("CT202", "not-found-404", Scope.STRICT,
     "an operation that takes an id (in the path, or x-references in the body) documents 404"),
    ("CT203", "forbidden-status", Scope.STRICT,
     "no operation documents 412, 413, 415, 422 or 428 (the contract answers 400 or 409)"),
    ("CT204", "distinct-templates", Scope.EVERYWHERE,
     "no two path templates differ only in parameter names (/flags/{key} and /flags/{id})"),
    ("CT301", "pagination-params", Scope.STRICT,
     "an operation answering a PaginatedResponse takes optional page (1..10000), limit "
     "(1..100, default 20), search, sortBy and sortOrder (asc|desc)"),
    ("CT302", "pagination-shape", Scope.STRICT,
     "a PaginatedResponse requires data[], total, page, limit, totalPages, hasMore, nextPage "
     "and prevPage with their types"),
    ("CT401", "auth-401", Scope.STRICT,
     "a secured operation documents 401 with a WWW-Authenticate header"),
    ("CT402", "roles-declared", Scope.STRICT,
     "every operation declares x-roles from the root's x-roles: [] exactly when it is public"),
    ("CT403", "roles-403", Scope.STRICT,
     "an operation that allows only some roles documents 403"),
    ("CT404", "auth-flow", Scope.EVERYWHERE,
     "x-auth-flow names real operations and the body fields that carry credentials and tokens"),
    ("CT405", "token-no-store", Scope.STRICT,
     "the 2xx responses that carry tokens (login, refresh) declare Cache-Control (no-store)"),
    ("CT501", "version-field", Scope.STRICT,
     "a mutable resource requires an integer `version`"),
    ("CT502", "etag-header", Scope.STRICT,
     "a 2xx response carrying one mutable resource declares ETag"),
    ("CT503", "if-match", Scope.STRICT,
     "a change to an existing resource accepts an optional If-Match (\"<version>\"); a PUT/PATCH"
     " body also an optional integer `version`"),
    ("CT504", "conflict-409", Scope.STRICT,
     "a change to an existing resource documents 409; so does a create of a resource with "
     "x-unique keys"),
    ("CT505", "resource-declarations", Scope.EVERYWHERE,
     "x-unique, x-owner, x-references and x-transitions name properties, schemas and states "
     "that exist"),
    ("CT601", "rate-limit-headers", Scope.STRICT,
     "every response declares X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset"),
    ("CT602", "rate-limit-429", Scope.STRICT,
     "every operation documents 429 with a Retry-After header"),
    ("CT603", "rate-limit-declared", Scope.STRICT,
     "the spec declares its rate limit (x-rate-limit at the root); login is limited per client"
     " and account"),
    ("CT701", "latency-budget", Scope.STRICT,
     "the spec declares its latency budget (x-latency-budget-ms at the root)"),
    ("CT801", "request-id", Scope.STRICT,
     "every operation accepts an optional X-Request-ID header and every response declares one"),
    ("CT802", "nosniff", Scope.STRICT,
     "every response declares X-Content-Type-Options (nosniff)"),
    ("CT901", "operation-id", Scope.STRICT,
     "every operation has an operationId, unique in the spec"),
    ("CT902", "one-tag", Scope.STRICT,
     "every operation has exactly one tag (its module), declared in the root `tags`"),
    ("CT903", "links-crud", Scope.STRICT,
     "links lead to real operations and parameters, and every create links to the get, update "
     "and delete of what it created"),
    ("CT904", "links-parent", Scope.STRICT,
     "the create of a parent links to every create that takes its id (a school to a "
     "department)"),
)  # fmt: skip

_LIST.extend(
    Rule(rule_id, Kind.LINT, words, Severity.NORMAL, "Spec", scope, name)
    for rule_id, name, scope, words in _LINT
)

#: spec changes (``conformance diff``): (id, class, words), the words saying which client breaks;
#: breaking fails the gate, a warning fails it under --fail-on warning, info never does
_DIFF: tuple[tuple[str, str, str], ...] = (
    ("removed-without-deprecation", "breaking", "an operation the old spec had not deprecated is"
     " gone: a client calling it gets 404 or 405, unwarned"),
    ("removed-before-sunset", "breaking", "an operation is gone before the x-sunset date its"
     " deprecation announced: a client still inside the notice gets 404 or 405"),
    ("operation-removed", "warning", "a deprecated operation is gone after its x-sunset (or it"
     " announced none): a client still calling it gets 404 or 405, as announced"),
    ("base-path-changed", "breaking", "the first server's base path moved: every client built on"
     " the old URLs gets 404"),
    ("param-required-added", "breaking", "a new required parameter: a client that does not send"
     " it is refused"),
    ("param-made-required", "breaking", "an optional parameter became required: a client that"
     " leaves it out is refused"),
    ("request-body-made-required", "breaking", "the request body became required: a client that"
     " sends none is refused"),
    ("request-media-type-removed", "breaking", "a request media type is gone: a client sending"
     " it gets 415"),
    ("request-property-required-added", "breaking", "a new required request property: a client"
     " that does not send it is refused"),
    ("request-property-made-required", "breaking", "an optional request property became"
     " required: a client that leaves it out is refused"),
    ("request-type-narrowed", "breaking", "a request value's type is narrower (a type or a"
     " oneOf branch gone): a client sending the old type is refused"),
    ("request-enum-value-removed", "breaking", "a value the old enum accepted is refused: a"
     " client sending it gets 400"),
    ("request-maximum-lowered", "breaking", "a request number's maximum is lower: a client"
     " sending a value the old spec allowed is refused"),
    ("request-minimum-raised", "breaking", "a request number's minimum is higher: a client"
     " sending a value the old spec allowed is refused"),
    ("request-pattern-added", "breaking", "a request string has a new or changed pattern: a"
     " client's value that the old spec allowed may be refused"),
    ("request-max-length-lowered", "breaking", "a request string's maxLength is lower: a client"
     " sending a value the old spec allowed is refused"),
    ("request-min-length-raised", "breaking", "a request string's minLength is higher: a client"
     " sending a value the old spec allowed is refused"),
    ("response-property-removed", "breaking", "a required response property is gone: a client"
     " reading it gets nothing"),
    ("response-property-optional", "breaking", "a required response property became optional:"
     " a client reading it unchecked fails when it is absent"),
    ("response-type-changed", "breaking", "a response value may have a type the old spec did"
     " not allow (null included, or a new oneOf branch): a client parsing the old type fails"),
    ("success-status-removed", "breaking", "a documented success status is gone: a client"
     " checking for it takes the new answer for a failure"),
    ("response-media-type-removed", "breaking", "a response media type is gone: a client asking"
     " for it gets 406 or a body it cannot parse"),
    ("security-added", "breaking", "an operation needs credentials the old spec did not ask"
     " for: a client without them gets 401"),
    ("scope-added", "breaking", "an operation needs an OAuth2 scope the old spec did not ask"
     " for: a client whose token lacks it gets 403"),
    ("role-removed", "breaking", "a role is gone from an operation's x-roles: a client of that"
     " role gets 403"),
    ("rate-limit-lowered", "breaking", "x-rate-limit is lower: a client paced to the old limit"
     " gets 429"),
    ("latency-budget-raised", "breaking", "x-latency-budget-ms is higher: a client whose timeout"
     " fits the old budget times out"),
    ("auth-flow-moved", "breaking", "an x-auth-flow field moved (an operation or a token's"
     " place): a client logging in, refreshing or logging out the old way fails"),
    ("old-client-broken", "breaking", "the new backend answers a request the old spec documents"
     " with a status or body the old spec does not allow: an old client fails at run time"),
    ("operation-id-changed", "warning", "an operationId changed: an SDK generated from the old"
     " spec names the method differently"),
    ("param-removed", "warning", "a parameter is gone: a client still sending it may be refused"
     " or its value ignored"),
    ("request-property-removed", "warning", "a request property is gone: a client still sending"
     " it may be refused or its value ignored"),
    ("response-enum-value-added", "warning", "a response value may take a value the old enum did"
     " not list: a client switching on it meets a case it does not know"),
    ("response-optional-property-removed", "warning", "an optional response property is gone: a"
     " client reading it when present never gets it"),
    ("operation-added", "info", "a new operation: no old client calls it"),
    ("operation-deprecated", "info", "an operation is now deprecated: old clients still work,"
     " and should move"),
    ("param-optional-added", "info", "a new optional parameter: old clients leave it out"),
    ("request-property-optional-added", "info", "a new optional request property: old clients"
     " leave it out"),
    ("request-constraint-relaxed", "info", "a request value accepts more (a type, an enum value,"
     " a bound): old clients' values still pass"),
    ("response-property-added", "info", "a new response property: old clients ignore it"),
    ("response-status-added", "info", "a newly documented status: old clients treat it as they"
     " treat any status they do not know"),
    ("security-removed", "info", "an operation asks for fewer credentials or scopes: old clients'"
     " still work"),
    ("rate-limit-raised", "info", "x-rate-limit is higher: old clients stay inside it"),
    ("latency-budget-lowered", "info", "x-latency-budget-ms is lower: old clients' timeouts still"
     " fit"),
    ("role-added", "info", "an operation allows another role: old clients are not affected"),
)  # fmt: skip

#: a diff rule's class -> its catalogue severity and whether it is a warning
DIFF_CLASSES: Mapping[str, tuple[Severity, bool]] = {
    "breaking": (Severity.CRITICAL, False),
    "warning": (Severity.MINOR, True),
    "info": (Severity.TRIVIAL, True),
}

_LIST.extend(
    Rule(rule_id, Kind.DIFF, words, DIFF_CLASSES[cls][0], "Spec change", Scope.EVERYWHERE,
         warning=DIFF_CLASSES[cls][1])
    for rule_id, cls, words in _DIFF
)  # fmt: skip

#: the rules of the checks and scenarios that also judge a security flaw: a finding names its
#: OWASP category too (a traceback is a security misconfiguration as much as a leak)
_ALSO_OWASP = {
    "ignored_auth": "API2", "object_level_authorization": "API1", "no_leaks": "API8",
    "private-404": "API1", "role-403": "API5", "bad-token-401": "API2", "expired-401": "API2",
    "no-credentials-401": "API2", "logout-revokes": "API2", "reuse-revokes-family": "API2",
    "limit-enforced": "API4", "login-limit": "API2",
}  # fmt: skip
_LIST = [
    dataclasses.replace(rule, owasp=_ALSO_OWASP[rule.id]) if rule.id in _ALSO_OWASP else rule
    for rule in _LIST
]

#: id -> rule, in the order reports list them
RULES: Mapping[str, Rule] = {rule.id: rule for rule in _LIST}
if len(RULES) != len(_LIST):  # pragma: no cover - a typo in the table above
    raise ValueError("a rule id is listed twice in the catalogue")


def rule(rule_id: str) -> Rule:
    """The rule with this id; a `KeyError` naming it when the catalogue has none."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"{rule_id!r} is not a rule of the catalogue") from None


def of_kind(*kinds: Kind) -> tuple[Rule, ...]:
    return tuple(r for r in RULES.values() if r.kind in kinds)


def ids(*kinds: Kind) -> tuple[str, ...]:
    return tuple(r.id for r in of_kind(*kinds))


def known(rule_ids: Iterable[str]) -> list[str]:
    """The ids among ``rule_ids`` that the catalogue does not list (empty when all are)."""
    return [rule_id for rule_id in rule_ids if rule_id not in RULES]


def severity_of(rule_id: str) -> Severity:
    """A rule's severity; a rule outside the catalogue (a user's own check) is normal."""
    found = RULES.get(rule_id)
    return found.severity if found else Severity.NORMAL


def worst(rule_ids: Iterable[str]) -> Severity:
    """The worst severity of ``rule_ids`` (normal for none)."""
    found = [severity_of(rule_id) for rule_id in rule_ids]
    return min(found, key=lambda s: s.rank) if found else Severity.NORMAL


def owasp_of(rule_id: str) -> str:
    """The OWASP API Security Top 10 category a rule's findings fall under ("" for none)."""
    found = RULES.get(rule_id)
    return found.owasp_name if found else ""


def is_warning(rule_id: str) -> bool:
    """Whether a rule's findings are warnings: reported, never failing the gate."""
    found = RULES.get(rule_id)
    return found is not None and found.warning


def category_of(rule_id: str) -> str:
    found = RULES.get(rule_id)
    return found.category if found else "Contract violation"


# --- when a rule applies ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applies:
    """Whether a rule applies to one answer (or one operation), and why, in a few words."""

    applies: bool
    why: str

    def __bool__(self) -> bool:
        return self.applies


STRICT_WHY = "the spec declares x-contract: strict"
#: the members an error response's schema declares for ``error_envelope`` to apply
ENVELOPE_MEMBERS = ("code", "message", "statusCode")
ERROR_MEMBERS = ("error", "code", "message", "statusCode")
PAGE_MEMBERS = ("data", "total", "page", "limit", "totalPages", "hasMore", "nextPage", "prevPage")
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
RATE_BODY = ("retryable", "retryAfter")


def body_members(spec: Spec, response: Mapping[str, Any]) -> set[str]:
    """The members a response's JSON body declares, with those of its ``data`` member (an
    envelope's); through ``$ref``, ``allOf``, ``oneOf`` and ``anyOf``."""
    schema = spec.json_schema(response)
    if schema is None:
        return set()
    members = _members(spec, schema)
    data = spec.schema_at(schema, "/data")
    return members | (_members(spec, data) if data is not None else set())


def _members(spec: Spec, schema: Any, depth: int = 0) -> set[str]:
    schema = spec.deref(schema)
    if not isinstance(schema, Mapping) or depth > 8:
        return set()
    found = set(spec.properties(schema))
    for keyword in ("oneOf", "anyOf"):
        for branch in schema.get(keyword, []) or []:
            found |= _members(spec, branch, depth + 1)
    return found


def applies(rule_id: str, spec: Spec, operation: Operation | None, status: int) -> Applies:
    """Whether ``rule_id`` judges an answer with ``status`` to ``operation`` (None: an
    operation the spec does not document, where only the rules that apply everywhere do)."""
    found = RULES.get(rule_id)
    if found is None or found.scope is Scope.EVERYWHERE:
        return Applies(True, "applies to every answer")
    if found.scope is not Scope.DECLARED:
        return Applies(True, f"a {found.kind} rule")
    if spec.declarations.strict:
        return Applies(True, STRICT_WHY)
    if operation is None:
        return Applies(False, "the spec does not document the operation")
    documented = spec.documented_response(operation, status)
    if rule_id == "rate_limit_headers" and operation.rate_limit is not None:
        return Applies(True, "the operation declares x-rate-limit")
    if documented is None:
        return Applies(False, f"the spec documents no response for {status}")
    key, response = documented
    return _declares(rule_id, spec, key, response)


def _declares(rule_id: str, spec: Spec, key: str, response: Mapping[str, Any]) -> Applies:
    headers = spec.response_headers(response)
    if rule_id == "request_id":
        said = "x-request-id" in headers
        return Applies(said, f"response {key} {'declares' if said else 'has no'} X-Request-ID")
    if rule_id == "nosniff":
        said = "x-content-type-options" in headers
        return Applies(
            said, f"response {key} {'declares' if said else 'has no'} X-Content-Type-Options"
        )
    if rule_id == "rate_limit_headers":
        said = bool(headers & set(RATE_HEADERS))
        return Applies(said, f"response {key} {'declares' if said else 'has no'} X-RateLimit-*")
    members = body_members(spec, response)
    if rule_id == "error_envelope":
        said = set(ENVELOPE_MEMBERS) <= members
        return Applies(
            said,
            f"response {key}'s schema {'declares' if said else 'lacks'} code, message and"
            " statusCode",
        )
    if rule_id == "pagination":
        said = set(PAGE_MEMBERS) <= members
        return Applies(
            said, f"response {key}'s schema {'declares' if said else 'lacks'} the page members"
        )
    return Applies(True, "applies to every answer")


def declared_members(
    spec: Spec, operation: Operation | None, status: int, wanted: Iterable[str]
) -> tuple[str, ...]:
    """Which of ``wanted`` the body documented for ``status`` declares (all of them under the
    strict opt-in): a rule checks only the members a spec promises."""
    wanted = tuple(wanted)
    if spec.declarations.strict:
        return wanted
    documented = spec.documented_response(operation, status) if operation else None
    if documented is None:
        return ()
    members = body_members(spec, documented[1])
    return tuple(name for name in wanted if name in members)


def operation_rules(spec: Spec, operation: Operation) -> Iterator[tuple[Rule, Applies]]:
    """For ``--list-rules``: each check's applicability to one operation, over its documented
    responses (applies where it applies to one of them at least)."""
    statuses = [
        int(key) if key.isdigit() else (int(key[0]) * 100 if key[0].isdigit() else 500)
        for key, _, _ in spec.responses(operation)
    ]
    for found in of_kind(Kind.SCHEMATHESIS, Kind.CHECK, Kind.GATE):
        if found.kind is Kind.GATE:
            yield (
                found,
                Applies(
                    spec.declarations.strict,
                    STRICT_WHY
                    if spec.declarations.strict
                    else "untested is no failure without the"
                    " strict opt-in (--require-exercised makes it one)",
                ),
            )
            continue
        relevant = [status for status in statuses if _judges(found.id, status)]
        answers = [applies(found.id, spec, operation, status) for status in relevant]
        hits = [a for a in answers if a]
        if hits:
            yield found, hits[0]
        elif answers:
            yield found, answers[0]
        else:
            which = "error" if found.id == "error_envelope" else "success"
            yield found, Applies(False, f"the operation documents no {which} response")


def _judges(rule_id: str, status: int) -> bool:
    """Whether a rule has anything to judge in an answer with ``status`` (the envelope is an
    error's, the page a success's)."""
    if rule_id == "error_envelope":
        return status >= 400
    if rule_id == "pagination":
        return 200 <= status < 300
    return True

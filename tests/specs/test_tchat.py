"""The Tchat spec against its seed (../shared/seeds/001_…, sections 2.1, 3.1 and 5.1)."""

from __future__ import annotations

from collections import Counter

from conformance.contract import bundled_spec, load_spec

# Written from the seed, not from the spec: (method, path) -> the name the seed gives it.
# Section 2.1, the 12 content endpoints (their RTK Query names); section 3.1, the auth service's
# fetch calls; section 5.1, the performance monitor's flush.
SEED_OPERATIONS = {
    ("GET", "/content/items"): "getContentItems",
    ("GET", "/content/items/{id}"): "getContentItem",
    ("GET", "/content/categories/{category}/items"): "getContentByCategory",
    ("GET", "/content/categories"): "getContentCategories",
    ("GET", "/content/items/{id}/versions"): "getContentVersions",
    ("GET", "/content/sync"): "syncContent",
    ("POST", "/content/items"): "createContentItem",
    ("PUT", "/content/items/{id}"): "updateContentItem",
    ("POST", "/content/items/{id}/publish"): "publishContent",
    ("POST", "/content/items/{id}/archive"): "archiveContent",
    ("POST", "/content/items/bulk"): "bulkUpdateContent",
    ("POST", "/content/items/{id}/revert"): "revertContentVersion",
    ("POST", "/auth/login"): "login",
    ("POST", "/auth/refresh"): "refreshTokens",
    ("POST", "/auth/logout"): "logout",
    ("GET", "/auth/verify"): "verifyToken",
    ("POST", "/metrics"): "recordMetrics",
}
#: Not in the seed: the contract's throwaway accounts (x-auth-flow `accounts`), an admin's.
CONTRACT_OPERATIONS = {
    ("POST", "/users"): "createUser",
    ("GET", "/users/{id}"): "getUser",
    ("DELETE", "/users/{id}"): "deleteUser",
}


def test_tchat_spec_holds_every_seed_operation_exactly_once() -> None:
    spec = load_spec(bundled_spec("tchat"))
    found = Counter((op.method.upper(), op.path) for op in spec.operations)
    assert set(found) == set(SEED_OPERATIONS) | set(CONTRACT_OPERATIONS)
    assert max(found.values()) == 1
    assert len(SEED_OPERATIONS) == 17


def test_tchat_spec_names_operations_as_the_seed_does() -> None:
    spec = load_spec(bundled_spec("tchat"))
    names = {(op.method.upper(), op.path): op.operation_id for op in spec.operations}
    assert names == SEED_OPERATIONS | CONTRACT_OPERATIONS


def test_tchat_spec_keeps_the_seeds_bare_auth_and_archive_shapes() -> None:
    spec = load_spec(bundled_spec("tchat"))
    bare = {op.operation_id for op in spec.operations if not op.enveloped}
    assert bare == {"login", "refreshTokens", "archiveContent"}
    login = spec.operation("login")
    assert login is not None
    (body,) = [spec.json_schema(r) for s, r, _ in spec.responses(login) if s == "200"]
    assert spec.required(body) == {"user", "tokens", "permissions"}


def test_tchat_spec_refreshes_with_the_refresh_token_as_bearer() -> None:
    spec = load_spec(bundled_spec("tchat"))
    refresh = spec.operation("refreshTokens")
    assert refresh is not None
    assert refresh.security == ({"refreshBearer": []},)
    assert spec.request_schema(refresh) is None

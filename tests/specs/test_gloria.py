"""The Gloria spec against its seed (../shared/seeds/000_…, "Available Modules and Endpoints")."""

from __future__ import annotations

from collections import Counter

from conformance.contract import bundled_spec, load_spec

# Written from the seed's module tables, not from the spec: (method, path under /api/v1) -> the
# operationId. The seed's `:id`, `:nip` and `:key` are templates here; its feature-flag `:id`
# (update, delete) is `{key}`, as one path position takes one template.
SEED_OPERATIONS = {
    # 1. Authentication
    ("POST", "/auth/login"): "login",
    ("POST", "/auth/logout"): "logout",
    ("POST", "/auth/refresh"): "refreshToken",
    ("GET", "/auth/me"): "getCurrentUser",
    ("GET", "/auth/health"): "getHealth",
    # 2. Users
    ("GET", "/users"): "listUsers",
    ("GET", "/users/{id}"): "getUser",
    ("GET", "/users/me"): "getMyProfile",
    ("GET", "/users/by-nip/{nip}"): "getUserByNip",
    ("GET", "/users/stats"): "getUserStats",
    ("POST", "/users"): "createUser",
    ("PATCH", "/users/{id}"): "updateUser",
    ("DELETE", "/users/{id}"): "deleteUser",
    # 3. Organizations: schools, departments, positions
    ("GET", "/schools"): "listSchools",
    ("GET", "/schools/{id}"): "getSchool",
    ("POST", "/schools"): "createSchool",
    ("PATCH", "/schools/{id}"): "updateSchool",
    ("DELETE", "/schools/{id}"): "deleteSchool",
    ("GET", "/departments"): "listDepartments",
    ("GET", "/departments/{id}"): "getDepartment",
    ("POST", "/departments"): "createDepartment",
    ("PATCH", "/departments/{id}"): "updateDepartment",
    ("DELETE", "/departments/{id}"): "deleteDepartment",
    ("GET", "/positions"): "listPositions",
    ("GET", "/positions/{id}"): "getPosition",
    ("POST", "/positions"): "createPosition",
    ("PATCH", "/positions/{id}"): "updatePosition",
    ("DELETE", "/positions/{id}"): "deletePosition",
    # 4. Permissions: permissions, roles, module access
    ("GET", "/permissions"): "listPermissions",
    ("GET", "/permissions/{id}"): "getPermission",
    ("POST", "/permissions"): "createPermission",
    ("PATCH", "/permissions/{id}"): "updatePermission",
    ("DELETE", "/permissions/{id}"): "deletePermission",
    ("GET", "/roles"): "listRoles",
    ("GET", "/roles/{id}"): "getRole",
    ("POST", "/roles"): "createRole",
    ("PATCH", "/roles/{id}"): "updateRole",
    ("DELETE", "/roles/{id}"): "deleteRole",
    ("GET", "/module-access"): "listModuleAccess",
    ("POST", "/module-access"): "grantModuleAccess",
    ("DELETE", "/module-access/{id}"): "revokeModuleAccess",
    # 5. Workflows: workflows, templates, instances
    ("GET", "/workflows"): "listWorkflows",
    ("GET", "/workflows/{id}"): "getWorkflow",
    ("POST", "/workflows"): "createWorkflow",
    ("PATCH", "/workflows/{id}"): "updateWorkflow",
    ("DELETE", "/workflows/{id}"): "deleteWorkflow",
    ("GET", "/workflow-templates"): "listWorkflowTemplates",
    ("GET", "/workflow-templates/{id}"): "getWorkflowTemplate",
    ("POST", "/workflow-templates"): "createWorkflowTemplate",
    ("PATCH", "/workflow-templates/{id}"): "updateWorkflowTemplate",
    ("DELETE", "/workflow-templates/{id}"): "deleteWorkflowTemplate",
    ("GET", "/workflow-instances"): "listWorkflowInstances",
    ("GET", "/workflow-instances/{id}"): "getWorkflowInstance",
    ("POST", "/workflow-instances"): "createWorkflowInstance",
    ("PATCH", "/workflow-instances/{id}"): "updateWorkflowInstance",
    ("DELETE", "/workflow-instances/{id}"): "deleteWorkflowInstance",
    # 6. Notifications: notifications, preferences, templates
    ("GET", "/notifications"): "listNotifications",
    ("GET", "/notifications/{id}"): "getNotification",
    ("POST", "/notifications"): "sendNotification",
    ("PATCH", "/notifications/{id}"): "markNotificationRead",
    ("DELETE", "/notifications/{id}"): "deleteNotification",
    ("GET", "/notification-preferences"): "getNotificationPreferences",
    ("PATCH", "/notification-preferences"): "updateNotificationPreferences",
    ("GET", "/notification-templates"): "listNotificationTemplates",
    ("GET", "/notification-templates/{id}"): "getNotificationTemplate",
    ("POST", "/notification-templates"): "createNotificationTemplate",
    ("PATCH", "/notification-templates/{id}"): "updateNotificationTemplate",
    ("DELETE", "/notification-templates/{id}"): "deleteNotificationTemplate",
    # 7. Audit
    ("GET", "/audit"): "listAuditLogs",
    ("GET", "/audit/{id}"): "getAuditLog",
    ("GET", "/audit/export"): "exportAuditLogs",
    # 8. Feature flags (the seed: GET :key, PATCH and DELETE :id)
    ("GET", "/feature-flags"): "listFeatureFlags",
    ("GET", "/feature-flags/{key}"): "getFeatureFlag",
    ("POST", "/feature-flags"): "createFeatureFlag",
    ("PATCH", "/feature-flags/{key}"): "updateFeatureFlag",
    ("DELETE", "/feature-flags/{key}"): "deleteFeatureFlag",
    # 9. System config
    ("GET", "/system-config"): "getSystemConfig",
    ("PATCH", "/system-config"): "updateSystemConfig",
}


def test_gloria_spec_holds_every_seed_operation_exactly_once() -> None:
    spec = load_spec(bundled_spec("gloria"))
    found = Counter((op.method.upper(), op.path) for op in spec.operations)
    assert set(found) == set(SEED_OPERATIONS)
    assert max(found.values()) == 1
    assert len(SEED_OPERATIONS) == 78
    assert spec.base_path == "/api/v1"


def test_gloria_spec_names_operations_as_agreed() -> None:
    spec = load_spec(bundled_spec("gloria"))
    names = {(op.method.upper(), op.path): op.operation_id for op in spec.operations}
    assert names == SEED_OPERATIONS


def test_gloria_spec_addresses_feature_flags_by_key_only() -> None:
    spec = load_spec(bundled_spec("gloria"))
    item = {
        op.operation_id: op.path for op in spec.operations if op.path.startswith("/feature-flags/")
    }
    by_key = ("getFeatureFlag", "updateFeatureFlag", "deleteFeatureFlag")
    assert item == dict.fromkeys(by_key, "/feature-flags/{key}")
    for operation_id in by_key:
        operation = spec.operation(operation_id)
        assert operation is not None
        assert [p.name for p in operation.path_parameters] == ["key"]


def test_gloria_spec_keeps_static_paths_beside_the_id_paths() -> None:
    spec = load_spec(bundled_spec("gloria"))
    paths = set(spec.data["paths"])
    assert {"/users/me", "/users/stats", "/users/by-nip/{nip}", "/users/{id}"} <= paths
    assert {"/audit/export", "/audit/{id}"} <= paths
    for static in ("/users/me", "/users/stats", "/audit/export"):
        assert set(spec.data["paths"][static]) == {"parameters", "get"}


def test_gloria_spec_refreshes_with_the_refresh_token_in_the_body() -> None:
    spec = load_spec(bundled_spec("gloria"))
    flow = spec.declarations.auth_flow
    assert flow is not None
    assert flow.refresh is not None
    assert flow.refresh.token_in == "body"
    assert flow.refresh.token_field == "/refreshToken"
    assert (flow.login.access_token, flow.login.refresh_token, flow.login.expires_in) == (
        "/data/tokens/accessToken",
        "/data/tokens/refreshToken",
        "/data/tokens/expiresIn",
    )
    assert flow.logout is not None
    assert flow.logout.operation_id == "logout"
    assert flow.verify is not None
    assert flow.verify.operation_id == "getCurrentUser"
    refresh = spec.operation("refreshToken")
    assert refresh is not None
    assert refresh.is_public
    assert spec.declaration_problems == ()


def test_gloria_spec_wraps_every_json_success_body() -> None:
    spec = load_spec(bundled_spec("gloria"))
    assert all(op.enveloped for op in spec.operations)

"""Every operation of both specs, called with valid input, answers a documented 2xx whose body
and headers schemathesis finds conformant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.contract import bundled_spec, load_spec
from tests.reference.conftest import Api, unique


@dataclass
class Call:
    """A request, as the spec names its parts."""

    method: str
    path: str  #: the template, as in the spec
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] | None = None
    body: Any = None
    headers: dict[str, str] | None = None

    def url(self) -> str:
        return self.path.format(**self.path_params)


def send(api: Api, call: Call) -> Any:
    return api.client.request(
        call.method,
        call.url().lstrip("/"),
        params=call.query,
        json=call.body,
        headers=call.headers,
    )


def made(api: Api, call: Call) -> Any:
    """Send a call that must succeed (something a recipe needs) and return its data."""
    response = send(api, call)
    assert response.status_code in (200, 201), response.text
    body = response.json()
    return body["data"] if "timestamp" in body else body


Body = Callable[[Api], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """A resource of the generic engine: where it lives, a valid create body, a valid change."""

    collection: str
    body: Body
    change: dict[str, Any]
    param: str = "id"

    def make(self, api: Api) -> dict[str, Any]:
        created: dict[str, Any] = made(api, Call("POST", self.collection, body=self.body(api)))
        return created

    @property
    def item(self) -> str:
        return f"{self.collection}/{{{self.param}}}"


# -- Gloria ------------------------------------------------------------------------------------


def school_body(api: Api | None = None) -> dict[str, Any]:
    n = unique()
    return {
        "code": f"T{n:04d}-SCH",
        "npsn": f"{30000000 + n}",
        "name": f"Test school {n}",
        "level": "junior_high",
        "address": {
            "street": "Jalan Uji 1",
            "city": "Depok",
            "province": "Jawa Barat",
            "postalCode": "16424",
        },
    }


def user_body(api: Api | None = None) -> dict[str, Any]:
    n = unique()
    return {
        "email": f"user{n}@test.gloria.example",
        "nip": f"{199001012015010000 + n}",
        "fullName": f"Test User {n}",
        "role": "staff",
        "password": "a-long-test-password",
    }


SCHOOL = Kind("/schools", school_body, {"name": "Renamed school"})
DEPARTMENT = Kind(
    "/departments",
    lambda api: {"schoolId": SCHOOL.make(api)["id"], "code": "ACAD", "name": "Academics"},
    {"name": "Renamed department"},
)
POSITION = Kind(
    "/positions",
    lambda api: {
        "departmentId": DEPARTMENT.make(api)["id"],
        "code": "TEACH",
        "title": "Teacher",
        "grade": 9,
    },
    {"title": "Senior Teacher"},
)
PERMISSION = Kind(
    "/permissions",
    lambda api: {"name": f"reports{unique()}.read", "resource": "users", "action": "read"},
    {"description": "Read the reports."},
)
ROLE = Kind(
    "/roles",
    lambda api: {"name": f"reviewer-{unique()}", "permissionIds": [PERMISSION.make(api)["id"]]},
    {"description": "Reviews things."},
)
USER = Kind("/users", user_body, {"fullName": "Renamed User"})
TEMPLATE = Kind(
    "/workflow-templates",
    lambda api: {
        "name": f"Approval {unique()}",
        "category": "approval",
        "steps": [{"name": "Manager approves", "approverRole": "manager", "slaHours": 24}],
    },
    {"description": "A template."},
)
WORKFLOW = Kind(
    "/workflows",
    lambda api: {
        "name": f"Workflow {unique()}",
        "templateId": TEMPLATE.make(api)["id"],
        "trigger": "manual",
    },
    {"description": "A test workflow."},
)
INSTANCE = Kind(
    "/workflow-instances",
    lambda api: {"workflowId": WORKFLOW.make(api)["id"], "title": "Purchase request"},
    {"status": "in_progress"},
)
NOTIFICATION = Kind(
    "/notifications",
    lambda api: {
        "recipientId": USER.make(api)["id"],
        "type": "info",
        "channel": "in_app",
        "title": "Hello",
        "body": "A test notification.",
    },
    {"read": True},
)
NOTIFICATION_TEMPLATE = Kind(
    "/notification-templates",
    lambda api: {
        "key": f"test.{unique()}",
        "name": "Test",
        "channel": "email",
        "subject": "Hi {{name}}",
        "body": "Hello {{name}}.",
    },
    {"name": "Renamed template"},
)
GRANT = Kind(
    "/module-access",
    lambda api: {"userId": USER.make(api)["id"], "module": "audit", "accessLevel": "read"},
    {},
)
FLAG = Kind(
    "/feature-flags",
    lambda api: {
        "key": f"test-flag-{unique()}",
        "name": "Test flag",
        "enabled": True,
        "rollout": {"percentage": 25, "roles": ["staff"], "schoolIds": [SCHOOL.make(api)["id"]]},
    },
    {"enabled": False},
    param="key",
)
GLORIA_KINDS = (
    SCHOOL, DEPARTMENT, POSITION, PERMISSION, ROLE, USER, TEMPLATE, WORKFLOW, INSTANCE,
    NOTIFICATION, NOTIFICATION_TEMPLATE, GRANT, FLAG,
)  # fmt: skip


def _first_audit_entry(api: Api) -> str:
    entry_id: str = made(api, Call("GET", "/audit", query={"limit": 1}))["data"][0]["id"]
    return entry_id


def _as(api: Api, principal: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.login(principal)['tokens'][token]}"}


GLORIA_SPECIAL: dict[str, Callable[[Api], Call]] = {
    "login": lambda api: Call(
        "POST",
        "/auth/login",
        body={
            "email": api.backend.credentials["service"].email,
            "password": api.backend.credentials["service"].password,
        },
    ),
    # A throwaway session of another principal: the test's own must live on.
    "logout": lambda api: Call("POST", "/auth/logout", headers=_as(api, "staff2", "accessToken")),
    "refreshToken": lambda api: Call(
        "POST",
        "/auth/refresh",
        body={"refreshToken": api.login("staff1")["tokens"]["refreshToken"]},
    ),
    "getCurrentUser": lambda api: Call("GET", "/auth/me"),
    "getHealth": lambda api: Call("GET", "/auth/health"),
    "getMyProfile": lambda api: Call("GET", "/users/me"),
    "getUserStats": lambda api: Call("GET", "/users/stats"),
    "getUserByNip": lambda api: Call("GET", "/users/by-nip/{nip}", {"nip": USER.make(api)["nip"]}),
    "listAuditLogs": lambda api: Call("GET", "/audit", query={"limit": 5}),
    "getAuditLog": lambda api: Call("GET", "/audit/{id}", {"id": _first_audit_entry(api)}),
    "exportAuditLogs": lambda api: Call("GET", "/audit/export", query={"format": "json"}),
    "getNotificationPreferences": lambda api: Call("GET", "/notification-preferences"),
    "updateNotificationPreferences": lambda api: Call(
        "PATCH", "/notification-preferences", body={"digest": "daily"}
    ),
    "getSystemConfig": lambda api: Call("GET", "/system-config"),
    "updateSystemConfig": lambda api: Call(
        "PATCH", "/system-config", body={"maintenanceMessage": "Tested."}
    ),
}


# -- Tchat -------------------------------------------------------------------------------------


def _category(api: Api) -> str:
    categories = made(api, Call("GET", "/content/categories", query={"includeEmpty": "true"}))
    category_id: str = categories[0]["id"]
    return category_id


ITEM = Kind(
    "/content/items",
    lambda api: {
        "title": f"Story {unique()}",
        "body": "Once upon a time.",
        "category": _category(api),
    },
    {"title": "Retitled story"},
)
TCHAT_USER = Kind(
    "/users",
    lambda api: {
        "email": f"throwaway{unique()}@tchat.example",
        "displayName": "Throwaway",
        "password": "correct horse battery",
    },
    {},
)


def _revert(api: Api) -> Call:
    item = ITEM.make(api)
    made(api, Call("PUT", ITEM.item, {"id": item["id"]}, body={"title": "Second draft"}))
    first = made(api, Call("GET", "/content/items/{id}/versions", {"id": item["id"]}))[-1]
    return Call(
        "POST", "/content/items/{id}/revert", {"id": item["id"]}, body={"versionId": first["id"]}
    )


def _metrics(api: Api) -> Call:
    return Call(
        "POST",
        "/metrics",
        body={
            "metrics": [{"name": "api_request_duration", "value": 12.5, "timestamp": 1}],
            "session": {
                "sessionId": "s-1",
                "userAgent": "tests",
                "platform": "web",
                "viewport": {"width": 1280, "height": 800},
                "connection": {"effectiveType": "4g", "downlink": 10, "rtt": 50, "saveData": False},
            },
        },
    )


TCHAT_SPECIAL: dict[str, Callable[[Api], Call]] = {
    "getContentVersions": lambda api: Call(
        "GET", "/content/items/{id}/versions", {"id": ITEM.make(api)["id"]}
    ),
    "publishContent": lambda api: Call(
        "POST", "/content/items/{id}/publish", {"id": ITEM.make(api)["id"]}, body={}
    ),
    "archiveContent": lambda api: Call(
        "POST", "/content/items/{id}/archive", {"id": ITEM.make(api)["id"]}, body={"reason": "Old"}
    ),
    "revertContentVersion": _revert,
    "bulkUpdateContent": lambda api: Call(
        "POST",
        "/content/items/bulk",
        body={"operations": [{"id": ITEM.make(api)["id"], "changes": {"title": "Bulk edit"}}]},
    ),
    "getContentCategories": lambda api: Call("GET", "/content/categories"),
    "getContentByCategory": lambda api: Call(
        "GET", "/content/categories/{category}/items", {"category": _category(api)}
    ),
    "syncContent": lambda api: Call(
        "GET", "/content/sync", query={"lastSyncTimestamp": "2000-01-01T00:00:00Z"}
    ),
    "recordMetrics": _metrics,
    "login": lambda api: Call(
        "POST",
        "/auth/login",
        body={
            "email": api.backend.credentials["service"].email,
            "password": api.backend.credentials["service"].password,
        },
    ),
    "refreshTokens": lambda api: Call(
        "POST", "/auth/refresh", headers=_as(api, "staff1", "refreshToken")
    ),
    "logout": lambda api: Call("POST", "/auth/logout", headers=_as(api, "staff2", "accessToken")),
    "verifyToken": lambda api: Call("GET", "/auth/verify"),
}


def recipes(api_name: str) -> dict[str, Callable[[Api], Call]]:
    """operationId -> a valid call: generic ones for each kind, then the special ones."""
    kinds = GLORIA_KINDS if api_name == "gloria" else (ITEM, TCHAT_USER)
    special = GLORIA_SPECIAL if api_name == "gloria" else TCHAT_SPECIAL
    spec = load_spec(bundled_spec(api_name))
    found: dict[str, Callable[[Api], Call]] = {}
    for operation in spec.operations:
        method, path = operation.method.upper(), operation.path
        for kind in kinds:
            recipe = _generic(kind, method, path)
            if recipe is not None:
                found[str(operation.operation_id)] = recipe
    return {**found, **special}


def _generic(kind: Kind, method: str, path: str) -> Callable[[Api], Call] | None:
    if path == kind.collection:
        if method == "GET":
            return lambda api: Call("GET", kind.collection)
        return lambda api: Call("POST", kind.collection, body=kind.body(api))
    if path == kind.item:
        change = kind.change if method in ("PATCH", "PUT") else None
        return lambda api: Call(
            method, kind.item, {kind.param: kind.make(api)[kind.param]}, body=change
        )
    return None


def cases() -> list[Any]:
    found = []
    for api_name in ("gloria", "tchat"):
        spec = load_spec(bundled_spec(api_name))
        for operation in spec.operations:
            found.append(
                pytest.param(
                    api_name, operation.operation_id, id=f"{api_name}-{operation.operation_id}"
                )
            )
    return found


@pytest.mark.parametrize(("api_name", "operation_id"), cases())
def test_operation_answers_a_documented_2xx(
    api_name: str, operation_id: str, request: pytest.FixtureRequest
) -> None:
    api: Api = request.getfixturevalue(api_name)
    operation = api.spec.operation(operation_id)
    assert operation is not None
    call = recipes(api_name)[operation_id](api)
    response = send(api, call)
    documented = {
        status for status, _, _ in api.spec.responses(operation) if status.startswith("2")
    }
    assert str(response.status_code) in documented, (response.status_code, response.text)
    parts = {
        "path_parameters": call.path_params or None,
        "query": call.query,
        "body": call.body,
        "headers": call.headers,
    }
    api.validate(
        call.method, call.path, response, **{k: v for k, v in parts.items() if v is not None}
    )


@pytest.mark.parametrize("api_name", ["gloria", "tchat"])
def test_operation_every_one_has_a_recipe(api_name: str) -> None:
    spec = load_spec(bundled_spec(api_name))
    assert {op.operation_id for op in spec.operations} == set(recipes(api_name))

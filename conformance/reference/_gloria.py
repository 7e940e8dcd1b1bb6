"""The Gloria API: its hooks, its special operations, and its demo data."""

from __future__ import annotations

import csv
import dataclasses
import io
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from conformance import __version__
from conformance.contract import Spec
from conformance.reference._auth import Tokens, invalid_credentials, unauthenticated
from conformance.reference._engine import Change, Engine, Hooks
from conformance.reference._errors import forbidden, invalid_transition, not_found
from conformance.reference._model import Context, Handler, Principal, Reply, now, unique_key
from conformance.reference._principals import Credential
from conformance.reference._store import Store, Transaction
from conformance.reference._wiring import build_engine, generic_handlers, not_oneself

API = "gloria"
STARTED = time.monotonic()
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
SYSTEM_ID = "system"
#: the roles that manage users: change anyone's profile and the guarded fields
ADMINISTRATORS = frozenset({"admin", "service"})
#: the profile fields only ADMINISTRATORS change (and nobody their own, but for nip)
GUARDED = ("role", "roleIds", "isActive", "nip")


class Gloria:
    """Handlers of the 78 Gloria operations over one store."""

    def __init__(self, spec: Spec, store: Store, tokens: Tokens) -> None:
        self.spec = spec
        self.store = store
        self.tokens = tokens
        hooks = Hooks(
            on_create={
                "UserProfile": self._create_user,
                "ModuleAccess": self._grant,
                "WorkflowTemplate": self._number_steps,
                "WorkflowInstance": self._start_instance,
                "Notification": self._new_notification,
                "NotificationTemplate": self._template_variables,
            },
            on_update={
                "UserProfile": self._update_user,
                "WorkflowTemplate": lambda ctx, tx, old, new, body: self._number_steps(
                    ctx, tx, new, body
                ),
                "WorkflowInstance": self._move_instance,
                "Notification": self._mark_read,
                "NotificationTemplate": lambda ctx, tx, old, new, body: self._template_variables(
                    ctx, tx, new, body
                ),
            },
            changed=[self._audit, self._follow_permissions, self._close_account],
        )
        self.engine: Engine = build_engine(
            API, spec, hooks, extra_kinds=("NotificationPreference", "SystemConfig")
        )
        self.kinds = self.engine.kinds

    def handlers(self) -> dict[str, Handler]:
        handlers = generic_handlers(self.engine)
        handlers["deleteUser"] = not_oneself(handlers["deleteUser"])
        handlers.update(
            {
                "login": self.login,
                "logout": self.logout,
                "refreshToken": self.refresh,
                "getCurrentUser": self.current_user,
                "getHealth": self.health,
                "getMyProfile": self.my_profile,
                "getUserStats": self.user_stats,
                "getUserByNip": self.user_by_nip,
                "exportAuditLogs": self.export_audit,
                "getNotificationPreferences": self.get_preferences,
                "updateNotificationPreferences": self.update_preferences,
                "getSystemConfig": self.get_config,
                "updateSystemConfig": self.update_config,
            }
        )
        return handlers

    # -- hooks -----------------------------------------------------------------------------

    def _permissions_of(self, tx: Transaction, role_ids: list[str]) -> list[str]:
        names: set[str] = set()
        for role_id in role_ids:
            role = tx.get("Role", role_id)
            for permission_id in role.data["permissionIds"] if role else []:
                permission = tx.get("Permission", permission_id)
                if permission is not None:
                    names.add(permission.data["name"])
        return sorted(names)

    def _create_user(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        data["permissions"] = self._permissions_of(tx, data["roleIds"])
        if body.get("password"):
            self.tokens.add_account(tx, data["email"], body["password"], data["role"], data["id"])

    def _update_user(
        self,
        ctx: Context,
        tx: Transaction,
        old: Mapping[str, Any],
        new: dict[str, Any],
        body: Mapping[str, Any],
    ) -> None:
        oneself = old["id"] == ctx.principal.id
        administers = ctx.principal.role in ADMINISTRATORS
        if not oneself and not administers:
            raise forbidden(f"a {ctx.principal.role} changes only their own profile")
        changed = [name for name in GUARDED if new[name] != old[name]]
        if changed and not administers:
            raise forbidden(f"changing {', '.join(changed)} needs admin or service")
        locked = [name for name in changed if name != "nip"]
        if oneself and locked:
            raise forbidden(f"nobody changes their own {', '.join(locked)}")
        if "roleIds" in body:
            new["permissions"] = self._permissions_of(tx, new["roleIds"])

    def _follow_permissions(self, ctx: Context, tx: Transaction, change: Change) -> None:
        """A change of a role or permission changes the derived permissions of its users."""
        if change.kind.name not in ("Role", "Permission") or change.action == "create":
            return
        users = self.kinds["UserProfile"]
        for row in tx.select("UserProfile"):
            permissions = self._permissions_of(tx, row.data["roleIds"])
            if permissions != row.data["permissions"]:
                self.engine.store_change(
                    ctx, tx, users, row.data, {**row.data, "permissions": permissions}
                )

    def _close_account(self, ctx: Context, tx: Transaction, change: Change) -> None:
        """A deleted user's account goes with them: their tokens stop working at once."""
        if change.kind.name == "UserProfile" and change.action == "delete" and change.before:
            self.tokens.remove_account_of(tx, change.before["id"])

    def _grant(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        data["grantedBy"] = ctx.principal.id

    def _number_steps(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        if "steps" in body:
            data["steps"] = [
                {"order": index, **step} for index, step in enumerate(body["steps"], start=1)
            ]

    def _start_instance(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        workflow = self.engine.load(ctx, tx, self.kinds["Workflow"], data["workflowId"])
        if not workflow.data["isActive"]:
            raise invalid_transition("the workflow is inactive: no instance can start")
        data.update(
            status="pending",
            currentStep=1,
            context=body.get("context", {}),
            initiatorId=ctx.principal.id,
            history=[
                {"status": "pending", "at": ctx.timestamp, "by": ctx.principal.id, "comment": None}
            ],
            completedAt=None,
        )

    def _move_instance(
        self,
        ctx: Context,
        tx: Transaction,
        old: Mapping[str, Any],
        new: dict[str, Any],
        body: Mapping[str, Any],
    ) -> None:
        if "status" in body:
            new["history"] = [
                *old["history"],
                {
                    "status": body["status"],
                    "at": ctx.timestamp,
                    "by": ctx.principal.id,
                    "comment": body.get("comment"),
                },
            ]
            if not self.kinds["WorkflowInstance"].transitions["status"].get(body["status"]):
                new["completedAt"] = ctx.timestamp
        if "currentStep" in body:
            if new["status"] != "in_progress":
                raise invalid_transition("the step moves only while the instance is in_progress")
            workflow = tx.get("Workflow", old["workflowId"])
            template = tx.get("WorkflowTemplate", workflow.data["templateId"]) if workflow else None
            steps = len(template.data["steps"]) if template else 1
            if body["currentStep"] > steps:
                raise invalid_transition(f"the workflow has {steps} steps")

    def _new_notification(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        data["read"] = False
        data["readAt"] = None

    def _mark_read(
        self,
        ctx: Context,
        tx: Transaction,
        old: Mapping[str, Any],
        new: dict[str, Any],
        body: Mapping[str, Any],
    ) -> None:
        new["readAt"] = (old["readAt"] or ctx.timestamp) if new["read"] else None

    def _template_variables(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        found = _PLACEHOLDER.findall(f"{data['subject']}\n{data['body']}")
        data["variables"] = sorted(set(found))

    def _audit(self, ctx: Context, tx: Transaction, change: Change) -> None:
        if change.kind.name == "AuditEntry" or change.kind.name.startswith("_"):
            return
        before, after = change.before or {}, change.after or {}
        changes = []
        for field in sorted(set(before) | set(after)):
            if field in ("updatedAt", "version"):
                continue
            old, new = before.get(field), after.get(field)
            if old != new:
                changes.append({"field": field, "before": _scalar(old), "after": _scalar(new)})
        subject_id = (after or before).get("id")
        self.record(ctx, tx, change.action, change.kind.name, subject_id, changes)

    def record(
        self,
        ctx: Context,
        tx: Transaction,
        action: str,
        resource_type: str,
        resource_id: str | None,
        changes: list[dict[str, Any]] | None = None,
    ) -> None:
        entry = {
            "id": str(uuid.uuid4()),
            "actorId": ctx.principal.id or None,
            "action": {"grant": "grant"}.get(action, action),
            "resourceType": resource_type,
            "resourceId": resource_id,
            "changes": changes or [],
            "ipAddress": ctx.client if ctx.client and _is_ip(ctx.client) else None,
            "userAgent": (ctx.user_agent or "")[:500] or None,
            "requestId": ctx.request_id,
            "createdAt": ctx.timestamp,
        }
        tx.insert("AuditEntry", entry)

    # -- auth ------------------------------------------------------------------------------

    def _profile(self, tx: Transaction, user_id: str) -> dict[str, Any]:
        row = tx.get("UserProfile", user_id)
        if row is None:
            raise unauthenticated("the account of this token no longer exists")
        return row.data

    def login(self, ctx: Context) -> Reply:
        body = ctx.body
        with ctx.store.write(API) as tx:
            user_id = tx.find_unique("UserProfile", "email", unique_key(body["email"].lower()))
            found = self.tokens.account_for_user(tx, user_id) if user_id else None
            account = self.tokens.authenticate(tx, found.id if found else None, body["password"])
            profile = self._profile(tx, account.user_id)
            if not profile["isActive"]:
                raise invalid_credentials()
            issued = self.tokens.start(tx, account)
            as_user = Principal(account.user_id, account.role, account.email)
            login_ctx = _acting(ctx, as_user)
            profile = self.engine.store_change(
                login_ctx,
                tx,
                self.kinds["UserProfile"],
                profile,
                {**profile, "lastLoginAt": ctx.timestamp},
                action="login",
            )
            tokens = {**issued.pair(), "tokenType": "Bearer"}
            return Reply(
                200, {"user": profile, "tokens": tokens, "permissions": profile["permissions"]}
            )

    def refresh(self, ctx: Context) -> Reply:
        issued = self.tokens.refresh(ctx.body["refreshToken"])
        return Reply(200, {"tokens": {**issued.pair(), "tokenType": "Bearer"}})

    def logout(self, ctx: Context) -> Reply:
        with ctx.store.write(API) as tx:
            if ctx.credentials:
                claims = self.tokens.check_access(tx, ctx.credentials)
                self.tokens.revoke(tx, claims.family)
            self.record(ctx, tx, "logout", "UserProfile", ctx.principal.id)
        return Reply(204)

    def current_user(self, ctx: Context) -> Reply:
        assert ctx.credentials is not None  # getCurrentUser is not public: the app checked it
        with ctx.store.read(API) as tx:
            profile = self._profile(tx, ctx.principal.id)
            expires = self.tokens.check_access(tx, ctx.credentials).expires_at
        return Reply(
            200,
            {
                "user": profile,
                "permissions": profile["permissions"],
                "expiresAt": _instant(expires),
            },
        )

    def health(self, ctx: Context) -> Reply:
        started = time.perf_counter()
        with ctx.store.read(API) as tx:
            tx.meta("seeded")
        latency = (time.perf_counter() - started) * 1000
        return Reply(
            200,
            {
                "status": "healthy",
                "version": __version__,
                "uptimeSeconds": round(time.monotonic() - STARTED, 3),
                "timestamp": ctx.timestamp,
                "checks": {"database": {"status": "healthy", "latencyMs": round(latency, 3)}},
            },
        )

    # -- users -----------------------------------------------------------------------------

    def my_profile(self, ctx: Context) -> Reply:
        with ctx.store.read(API) as tx:
            row = tx.get("UserProfile", ctx.principal.id)
        if row is None:
            raise not_found("the caller has no profile")
        return Reply(200, row.data)

    def user_stats(self, ctx: Context) -> Reply:
        with ctx.store.read(API) as tx:
            users = [row.data for row in tx.select("UserProfile")]
        month_ago = _instant(int(time.time()) - 30 * 86400)
        active = sum(1 for user in users if user["isActive"])
        by_role = dict.fromkeys(("admin", "manager", "staff", "service"), 0)
        for user in users:
            by_role[user["role"]] += 1
        return Reply(
            200,
            {
                "total": len(users),
                "active": active,
                "inactive": len(users) - active,
                "byRole": by_role,
                "createdLast30Days": sum(1 for u in users if u["createdAt"] >= month_ago),
            },
        )

    def user_by_nip(self, ctx: Context) -> Reply:
        nip = ctx.request.path["nip"]
        with ctx.store.read(API) as tx:
            user_id = tx.find_unique("UserProfile", "nip", unique_key(nip))
            row = tx.get("UserProfile", user_id) if user_id else None
        if row is None:
            raise not_found(f"no user has NIP {nip}")
        return Reply(200, row.data)

    # -- audit -----------------------------------------------------------------------------

    def export_audit(self, ctx: Context) -> Reply:
        query = ctx.request.query
        kind = self.kinds["AuditEntry"]
        filters = [f for f in self.engine._query_filters(kind, query) if f.op != "like-any"]
        with ctx.store.write(API) as tx:
            rows = tx.select("AuditEntry", filters, sort="createdAt", limit=10000)
            self.record(ctx, tx, "export", "AuditEntry", None)
        entries = [row.data for row in rows]
        if query.get("format", "csv") == "json":
            return Reply(
                200, {"entries": entries, "count": len(entries), "exportedAt": ctx.timestamp}
            )
        out = io.StringIO()
        columns = list(kind.properties)
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for entry in entries:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, list) else v for k, v in entry.items()}
            )
        return Reply(200, raw=out.getvalue().encode(), media_type="text/csv; charset=utf-8")

    # -- singletons ------------------------------------------------------------------------

    def _preferences(self, ctx: Context, tx: Transaction) -> dict[str, Any]:
        row = tx.get("NotificationPreference", ctx.principal.id)
        if row is not None:
            return row.data
        data = {
            "userId": ctx.principal.id,
            "email": True,
            "push": True,
            "sms": False,
            "inApp": True,
            "digest": "none",
            "quietHours": None,
            "mutedTypes": [],
            "updatedAt": ctx.timestamp,
            "version": 1,
        }
        tx.insert("NotificationPreference", data, ctx.principal.id, id=ctx.principal.id)
        return data

    def get_preferences(self, ctx: Context) -> Reply:
        with ctx.store.write(API) as tx:
            return Reply(200, self._preferences(ctx, tx))

    def update_preferences(self, ctx: Context) -> Reply:
        return self._update_singleton(
            ctx, "NotificationPreference", ctx.principal.id, self._preferences
        )

    def _config(self, ctx: Context, tx: Transaction) -> dict[str, Any]:
        row = tx.get("SystemConfig", SYSTEM_ID)
        if row is None:
            raise not_found("the system configuration is missing")
        return row.data

    def get_config(self, ctx: Context) -> Reply:
        with ctx.store.read(API) as tx:
            return Reply(200, self._config(ctx, tx))

    def update_config(self, ctx: Context) -> Reply:
        return self._update_singleton(ctx, "SystemConfig", SYSTEM_ID, self._config)

    def _update_singleton(
        self,
        ctx: Context,
        kind_name: str,
        row_id: str,
        current: Any,
    ) -> Reply:
        kind = self.kinds[kind_name]
        body = ctx.body
        with ctx.store.write(API) as tx:
            old = current(ctx, tx)
            self.engine.check_version(ctx, old["version"])
            new = {**old, **{k: v for k, v in body.items() if k != "version"}}
            new["version"] = old["version"] + 1
            new["updatedAt"] = ctx.timestamp
            if "updatedBy" in kind.properties:
                new["updatedBy"] = ctx.principal.id
            tx.replace(kind_name, new, id=row_id)
            self.engine.changed(ctx, tx, "update", kind, old, new)
            return Reply(200, new)


def _acting(ctx: Context, principal: Principal) -> Context:
    return dataclasses.replace(ctx, principal=principal)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True)


def _instant(epoch: int) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _school(code: str, npsn: str, name: str, level: str, city: str, postal: str) -> dict[str, Any]:
    return {
        "code": code,
        "npsn": npsn,
        "name": name,
        "level": level,
        "address": {
            "street": f"Jalan Pendidikan {postal[-2:]}",
            "city": city,
            "province": "DKI Jakarta",
            "postalCode": postal,
        },
    }


PERMISSIONS = [
    ("users.read", "users", "read"),
    ("users.manage", "users", "manage"),
    ("schools.read", "schools", "read"),
    ("schools.manage", "schools", "manage"),
    ("workflows.read", "workflows", "read"),
    ("workflows.manage", "workflows", "manage"),
    ("notifications.send", "notifications", "create"),
    ("audit.read", "audit", "read"),
    ("audit.export", "audit", "export"),
    ("flags.manage", "flags", "manage"),
]
ROLE_PERMISSIONS = {
    "admin": [name for name, _, _ in PERMISSIONS],
    "service": [name for name, _, _ in PERMISSIONS],
    "manager": [
        "users.read",
        "schools.read",
        "schools.manage",
        "workflows.read",
        "workflows.manage",
        "notifications.send",
    ],
    "staff": ["schools.read", "workflows.read"],
}


def seed(gloria: Gloria, operation_for: Any, creds: dict[str, Credential]) -> Principal:
    """Fill an empty database with demo data and the principals; returns the service one.

    ``operation_for(operation_id)`` gives the Context of a create as that operation (its
    request schema supplies the defaults), acting for the service principal.
    """
    engine, kinds = gloria.engine, gloria.kinds
    with gloria.store.write(API) as tx:
        service = creds["service"]
        service_id = tx.meta("principal:gloria:service")
        if service_id is not None:
            return Principal(service_id, "service", service.email)
        service_id = str(uuid.uuid4())
        tx.set_meta("principal:gloria:service", service_id)
        principal = Principal(service_id, "service", service.email)

        def create(operation_id: str, kind: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
            return engine.create_in(
                operation_for(operation_id, principal), tx, kinds[kind], body, **kw
            )

        permission_ids = {}
        for name, resource, action in PERMISSIONS:
            permission = create(
                "createPermission",
                "Permission",
                {"name": name, "resource": resource, "action": action},
            )
            permission_ids[name] = permission["id"]
        role_ids = {}
        for role, names in ROLE_PERMISSIONS.items():
            created = create(
                "createRole",
                "Role",
                {
                    "name": role,
                    "description": f"The {role} system role.",
                    "permissionIds": [permission_ids[n] for n in names],
                },
            )
            role_ids[role] = created["id"]
        schools = [
            create("createSchool", "School", _school(*args))
            for args in (
                (
                    "SMAN1-JKT",
                    "20100001",
                    "SMA Negeri 1 Jakarta",
                    "senior_high",
                    "Jakarta",
                    "10110",
                ),
                (
                    "SMPN5-JKT",
                    "20100002",
                    "SMP Negeri 5 Jakarta",
                    "junior_high",
                    "Jakarta",
                    "10120",
                ),
                ("SDN3-BGR", "20200003", "SD Negeri 3 Bogor", "elementary", "Bogor", "16110"),
            )
        ]
        departments = []
        for school in schools:
            for code, name in (("ACAD", "Academic Affairs"), ("ADMIN", "Administration")):
                department = create(
                    "createDepartment",
                    "Department",
                    {"schoolId": school["id"], "code": code, "name": name},
                )
                departments.append(department)
                for position_code, title, grade in (
                    ("HEAD", "Head of Department", 12),
                    ("TEACH", "Teacher", 9),
                ):
                    create(
                        "createPosition",
                        "Position",
                        {
                            "departmentId": department["id"],
                            "code": position_code,
                            "title": title,
                            "grade": grade,
                        },
                    )
        users = {}
        for index, (name, credential) in enumerate(creds.items(), start=1):
            users[name] = create(
                "createUser",
                "UserProfile",
                {
                    "email": credential.email,
                    "nip": f"19800101200501{index:04d}",
                    "fullName": f"{name.title()} User",
                    "role": credential.role,
                    "password": credential.password,
                    "roleIds": [role_ids[credential.role]],
                    "schoolId": schools[0]["id"],
                    "departmentId": departments[0]["id"],
                },
                id=service_id if name == "service" else None,
            )
        for key, body in (
            (
                "welcome",
                {"subject": "Welcome, {{name}}", "body": "Hello {{name}}, welcome to {{school}}."},
            ),
            (
                "workflow.assigned",
                {"subject": "A step awaits you", "body": "Please review {{title}}."},
            ),
        ):
            create(
                "createNotificationTemplate",
                "NotificationTemplate",
                {"key": key, "name": key.replace(".", " ").title(), "channel": "email", **body},
            )
        create(
            "createFeatureFlag",
            "FeatureFlag",
            {
                "key": "new-dashboard",
                "name": "New dashboard",
                "enabled": True,
                "rollout": {"percentage": 50, "roles": ["staff"], "schoolIds": []},
            },
        )
        create(
            "createFeatureFlag",
            "FeatureFlag",
            {
                "key": "beta-reports",
                "name": "Beta reports",
                "enabled": False,
                "rollout": {"percentage": 0, "roles": [], "schoolIds": []},
            },
        )
        template = create(
            "createWorkflowTemplate",
            "WorkflowTemplate",
            {
                "name": "Leave request",
                "category": "request",
                "steps": [
                    {"name": "Head approves", "approverRole": "manager", "slaHours": 48},
                    {"name": "Administration records", "approverRole": "admin", "slaHours": 72},
                ],
            },
        )
        workflow = create(
            "createWorkflow",
            "Workflow",
            {
                "name": "Staff leave",
                "templateId": template["id"],
                "trigger": "manual",
                "schoolId": schools[0]["id"],
            },
        )
        staff1 = users["staff1"]
        staff_ctx = Principal(staff1["id"], "staff", staff1["email"])
        engine.create_in(
            operation_for("createWorkflowInstance", staff_ctx),
            tx,
            kinds["WorkflowInstance"],
            {"workflowId": workflow["id"], "title": "Leave, 3 days in March"},
        )
        for name in ("staff1", "staff2"):
            create(
                "sendNotification",
                "Notification",
                {
                    "recipientId": users[name]["id"],
                    "type": "info",
                    "channel": "in_app",
                    "title": "Welcome to Gloria",
                    "body": "Your account is ready.",
                },
            )
        create(
            "grantModuleAccess",
            "ModuleAccess",
            {"userId": staff1["id"], "module": "workflows", "accessLevel": "write"},
        )
        config = {
            "schoolYear": "2026/2027",
            "timezone": "Asia/Jakarta",
            "locale": "id-ID",
            "maintenanceMode": False,
            "maintenanceMessage": None,
            "sessionIdleMinutes": 30,
            "mfaRequired": False,
            "uploadMaxSizeMb": 10,
            "updatedAt": now(),
            "updatedBy": None,
            "version": 1,
        }
        tx.insert("SystemConfig", config, id=SYSTEM_ID)
        return principal

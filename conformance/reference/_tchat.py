"""The Tchat API: content items with their versions, categories, sync, bulk, metrics, auth."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from conformance.contract import Spec
from conformance.reference._auth import Tokens, unauthenticated
from conformance.reference._engine import Change, Engine, Hooks, parameter_default
from conformance.reference._errors import (
    ApiError,
    invalid_transition,
    not_found,
    version_conflict,
)
from conformance.reference._model import (
    Context,
    Handler,
    Kind,
    Principal,
    Reply,
    normalize_instant,
    now,
    unique_key,
)
from conformance.reference._principals import Credential
from conformance.reference._store import Filter, Store, Transaction
from conformance.reference._wiring import build_engine, generic_handlers, not_oneself

API = "tchat"
ITEM = "ContentItem"
USER = "User"
SYNC_PAGE = 500
PERMISSIONS = {
    "admin": ["content.read", "content.write", "content.publish", "content.bulk", "metrics.write"],
    "manager": [
        "content.read",
        "content.write",
        "content.publish",
        "content.bulk",
        "metrics.write",
    ],
    "service": [
        "content.read",
        "content.write",
        "content.publish",
        "content.bulk",
        "metrics.write",
    ],
    "staff": ["content.read", "content.write", "metrics.write"],
}


class Tchat:
    """Handlers of the 20 Tchat operations over one store."""

    def __init__(self, spec: Spec, store: Store, tokens: Tokens) -> None:
        self.spec = spec
        self.store = store
        self.tokens = tokens
        hooks = Hooks(
            on_create={ITEM: self._new_item, USER: self._new_account},
            changed=[self._record_version, self._close_account],
        )
        self.engine: Engine = build_engine(
            API, spec, hooks, extra_kinds=("ContentCategory", "ContentVersion", "User")
        )
        self.kinds = self.engine.kinds
        self.item: Kind = self.kinds[ITEM]

    def handlers(self) -> dict[str, Handler]:
        handlers = generic_handlers(self.engine)
        handlers["deleteUser"] = not_oneself(handlers["deleteUser"])
        handlers.update(
            {
                "getContentItem": self.get_item,
                "getContentVersions": self.versions,
                "publishContent": self.publish,
                "archiveContent": self.archive,
                "revertContentVersion": self.revert,
                "bulkUpdateContent": self.bulk,
                "getContentCategories": self.categories,
                "getContentByCategory": self.category_items,
                "syncContent": self.sync,
                "recordMetrics": self.metrics,
                "login": self.login,
                "refreshTokens": self.refresh,
                "logout": self.logout,
                "verifyToken": self.verify,
            }
        )
        return handlers

    # -- hooks -----------------------------------------------------------------------------

    def _new_item(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        data.update(status="draft", authorId=ctx.principal.id)
        if not body.get("platforms"):
            data["platforms"] = ["web"]

    def _new_account(
        self, ctx: Context, tx: Transaction, data: dict[str, Any], body: Mapping[str, Any]
    ) -> None:
        self.tokens.add_account(tx, data["email"], body["password"], data["role"], data["id"])

    def _close_account(self, ctx: Context, tx: Transaction, change: Change) -> None:
        """A deleted user's account goes too: its tokens stop working at once."""
        if change.kind.name == USER and change.action == "delete" and change.before:
            self.tokens.remove_account_of(tx, change.before["id"])

    def _record_version(self, ctx: Context, tx: Transaction, change: Change) -> None:
        """Every state of a content item is a version: its history and what revert restores."""
        after = change.after
        if change.kind.name != ITEM or after is None:
            return
        summary = {"create": "created", "update": "edited"}.get(change.action, change.action)
        tx.insert(
            "ContentVersion",
            {
                "id": str(uuid.uuid4()),
                "contentId": after["id"],
                "version": after["version"],
                "title": after["title"],
                "summary": after["summary"],
                "body": after["body"],
                "category": after["category"],
                "tags": after["tags"],
                "createdAt": ctx.timestamp,
                "createdBy": ctx.principal.id,
                "changeSummary": summary,
            },
        )

    # -- content ---------------------------------------------------------------------------

    def get_item(self, ctx: Context) -> Reply:
        item_id, wanted = ctx.request.path["id"], ctx.request.query.get("version")
        with ctx.store.read(API) as tx:
            item = self.engine.load(ctx, tx, self.item, item_id).data
            if wanted is None or wanted == item["version"]:
                return Reply(200, item)
            found = self._version(tx, item_id, version=wanted)
        if found is None:
            raise not_found(f"content item {item_id} never had version {wanted}")
        fields = ("title", "summary", "body", "category", "tags", "version")
        return Reply(200, {**item, **{name: found[name] for name in fields}})

    def _version(
        self, tx: Transaction, item_id: str, *, version: int | None = None, id: str | None = None
    ) -> dict[str, Any] | None:
        filters = [Filter("contentId", "=", item_id)]
        if version is not None:
            filters.append(Filter("version", "=", version))
        if id is not None:
            filters.append(Filter("id", "=", id))
        rows = tx.select("ContentVersion", filters, sort="version", descending=True, limit=1)
        return rows[0].data if rows else None

    def versions(self, ctx: Context) -> Reply:
        item_id = ctx.request.path["id"]
        limit = ctx.request.query.get("limit") or parameter_default(
            self.spec, ctx.operation, "limit"
        )
        with ctx.store.read(API) as tx:
            self.engine.load(ctx, tx, self.item, item_id)
            rows = tx.select(
                "ContentVersion",
                [Filter("contentId", "=", item_id)],
                sort="version",
                descending=True,
                limit=int(limit),
            )
        return Reply(200, [row.data for row in rows])

    def _change(
        self, ctx: Context, change: Callable[[Transaction, dict[str, Any]], str]
    ) -> dict[str, Any]:
        """Load, check the version, let ``change`` edit a copy (it names the action), store."""
        with ctx.store.write(API) as tx:
            row = self.engine.load(ctx, tx, self.item, ctx.request.path["id"])
            self.engine.check_version(ctx, row.version)
            new = dict(row.data)
            action = change(tx, new)
            return self.engine.store_change(ctx, tx, self.item, row.data, new, action=action)

    def _move(self, old: Mapping[str, Any], status: str) -> None:
        if not self.item.check_move("status", old["status"], status):
            raise invalid_transition(f"a {old['status']} item cannot become {status}")

    def publish(self, ctx: Context) -> Reply:
        options = ctx.body or {}

        def change(tx: Transaction, item: dict[str, Any]) -> str:
            sent = options.get("scheduledAt")
            scheduled = normalize_instant(sent) if sent is not None else None
            later = scheduled is not None and scheduled > ctx.timestamp
            self._move(item, "scheduled" if later else "published")
            item["status"] = "scheduled" if later else "published"
            item["scheduledAt"] = scheduled if later else None
            if not later:
                item["publishedAt"] = ctx.timestamp
            if options.get("platforms"):
                item["platforms"] = options["platforms"]
            return "publish"

        return Reply(200, self._change(ctx, change))

    def archive(self, ctx: Context) -> Reply:
        reason = (ctx.body or {}).get("reason")

        def change(tx: Transaction, item: dict[str, Any]) -> str:
            self._move(item, "archived")
            item.update(status="archived", archivedAt=ctx.timestamp, archiveReason=reason)
            return "archive"

        self._change(ctx, change)
        return Reply(200, {"success": True})

    def revert(self, ctx: Context) -> Reply:
        version_id = ctx.body["versionId"]

        def change(tx: Transaction, item: dict[str, Any]) -> str:
            self.engine.check_final(self.item, item)
            found = self._version(tx, item["id"], id=version_id)
            if found is None:
                raise not_found(f"versionId: content item {item['id']} has no version {version_id}")
            for name in ("title", "summary", "body", "category", "tags"):
                item[name] = found[name]
            self.engine.check_references(tx, self.item, item)
            return "revert"

        return Reply(200, self._change(ctx, change))

    def bulk(self, ctx: Context) -> Reply:
        applied: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        with ctx.store.write(API) as tx:
            for index, operation in enumerate(ctx.body["operations"]):
                try:
                    with tx.savepoint():
                        applied.append(self._bulk_one(ctx, tx, operation))
                except ApiError as error:
                    failure = {
                        "index": index,
                        "id": operation["id"],
                        "code": error.code,
                        "error": error.message,
                    }
                    if error.details and "currentVersion" in error.details:
                        failure["currentVersion"] = error.details["currentVersion"]
                    failed.append(failure)
        return Reply(
            200,
            {"successfulOperations": len(applied), "items": applied, "failedOperations": failed},
        )

    def _bulk_one(
        self, ctx: Context, tx: Transaction, operation: Mapping[str, Any]
    ) -> dict[str, Any]:
        row = self.engine.load(ctx, tx, self.item, operation["id"])
        expected = operation.get("version")
        if expected is not None and expected != row.version:
            raise version_conflict(row.version)
        self.engine.check_final(self.item, row.data)
        new = {**row.data, **operation["changes"]}
        self.engine.check_references(tx, self.item, operation["changes"])
        return self.engine.store_change(ctx, tx, self.item, row.data, new, action="update")

    # -- categories, sync, metrics ---------------------------------------------------------

    def _category_tree(self, tx: Transaction) -> list[dict[str, Any]]:
        return [row.data for row in tx.select("ContentCategory", sort="depth")]

    def categories(self, ctx: Context) -> Reply:
        include_empty = bool(ctx.request.query.get("includeEmpty", False))
        with ctx.store.read(API) as tx:
            found = []
            for category in self._category_tree(tx):
                count = tx.count(
                    ITEM, [Filter("category", "=", category["id"])], ctx.principal.visible_to
                )
                if count or include_empty:
                    found.append({**category, "itemCount": count})
        return Reply(200, found)

    def category_items(self, ctx: Context) -> Reply:
        category_id = ctx.request.path["category"]
        query = ctx.request.query
        status = query.get("status") or parameter_default(self.spec, ctx.operation, "status")
        with ctx.store.read(API) as tx:
            tree = self._category_tree(tx)
            if not any(category["id"] == category_id for category in tree):
                raise not_found(f"there is no content category {category_id}")
            ids = {category_id}
            if query.get("includeSubcategories"):
                for category in tree:  # parents come before their children (by depth)
                    if category["parentId"] in ids:
                        ids.add(category["id"])
            filters = [Filter("category", "in", sorted(ids))]
            if "status" not in query and status:
                filters.append(Filter("status", "=", status))
            return Reply(200, self.engine.page(ctx, tx, self.item, filters))

    def sync(self, ctx: Context) -> Reply:
        query = ctx.request.query
        since = normalize_instant(query["lastSyncTimestamp"])
        platforms = set(query.get("platforms") or ["web"])
        with ctx.store.read(API) as tx:
            rows = tx.select(
                ITEM,
                [Filter("updatedAt", ">", since)],
                visible_to=ctx.principal.visible_to,
                sort="updatedAt",
            )
        changed = [row.data for row in rows if platforms & set(row.data["platforms"])]
        live = [item for item in changed if item["status"] != "archived"]
        items, more = live[:SYNC_PAGE], len(live) > SYNC_PAGE
        deleted = (
            [item["id"] for item in changed if item["status"] == "archived"]
            if query.get("includeDeleted")
            else []
        )
        return Reply(
            200,
            {
                "items": items,
                "deletedIds": deleted,
                "syncTimestamp": items[-1]["updatedAt"] if more else ctx.timestamp,
                "hasMore": more,
            },
        )

    def metrics(self, ctx: Context) -> Reply:
        return Reply(202, {"accepted": len(ctx.body["metrics"])})

    # -- auth ------------------------------------------------------------------------------

    def _user(self, tx: Transaction, user_id: str) -> dict[str, Any]:
        row = tx.get(USER, user_id)
        if row is None:
            raise unauthenticated("the account of this token no longer exists")
        return row.data

    def login(self, ctx: Context) -> Reply:
        with ctx.store.write(API) as tx:
            account = self.tokens.authenticate(
                tx, self.tokens.find_by_email(tx, ctx.body["email"]), ctx.body["password"]
            )
            issued = self.tokens.start(tx, account)
            user = self._user(tx, account.user_id)
        return Reply(
            200,
            {"user": user, "tokens": issued.pair(), "permissions": PERMISSIONS[account.role]},
        )

    def refresh(self, ctx: Context) -> Reply:
        if not ctx.credentials:
            raise unauthenticated("send the refresh token as the bearer credential", bare=True)
        issued = self.tokens.refresh(ctx.credentials)
        return Reply(200, {"tokens": issued.pair()})

    def logout(self, ctx: Context) -> Reply:
        if ctx.credentials:
            with ctx.store.write(API) as tx:
                self.tokens.revoke(tx, self.tokens.check_access(tx, ctx.credentials).family)
        return Reply(204)

    def verify(self, ctx: Context) -> Reply:
        assert ctx.credentials is not None  # verifyToken is not public: the app checked it
        with ctx.store.read(API) as tx:
            user = self._user(tx, ctx.principal.id)
            expires = self.tokens.check_access(tx, ctx.credentials).expires_at
        moment = datetime.fromtimestamp(expires, UTC).isoformat(timespec="milliseconds")
        return Reply(200, {"valid": True, "user": user, "expiresAt": moment.replace("+00:00", "Z")})


CATEGORIES = [
    ("news", "News", None),
    ("local-news", "Local news", "news"),
    ("world-news", "World news", "news"),
    ("tutorials", "Tutorials", None),
    ("announcements", "Announcements", None),
    ("archive-2020", "Archive 2020", None),
]


def seed(tchat: Tchat, operation_for: Any, creds: dict[str, Credential]) -> Principal:
    """Fill an empty database with categories, items with versions, and the principals."""
    with tchat.store.write(API) as tx:
        service_id = tx.meta("principal:tchat:service")
        if service_id is not None:
            return Principal(service_id, "service", creds["service"].email)
        principals = {}
        for name, credential in creds.items():
            user_id = str(uuid.uuid4())
            user = {
                "id": user_id,
                "email": credential.email,
                "displayName": f"{name.title()} User",
                "role": credential.role,
                "avatarUrl": None,
                "createdAt": now(),
                "version": 1,
            }
            tx.insert(USER, user, user_id)
            tchat.engine.claim(tx, tchat.kinds[USER], user)
            tchat.tokens.add_account(
                tx, credential.email, credential.password, credential.role, user_id
            )
            principals[name] = Principal(user_id, credential.role, credential.email)
        tx.set_meta("principal:tchat:service", principals["service"].id)
        slugs: dict[str, str] = {}
        for slug, name, parent in CATEGORIES:
            category_id = str(uuid.uuid4())
            slugs[slug] = category_id
            tx.insert(
                "ContentCategory",
                {
                    "id": category_id,
                    "name": name,
                    "slug": slug,
                    "description": f"{name} for every platform.",
                    "parentId": slugs[parent] if parent else None,
                    "depth": 1 if parent else 0,
                    "itemCount": 0,
                },
            )
            tx.claim("ContentCategory", {"slug": unique_key(slug)}, category_id)
        items = [
            ("staff1", "Welcome to Tchat", "news", "published"),
            ("staff1", "City library reopens", "local-news", "published"),
            ("staff2", "Elections abroad", "world-news", "published"),
            ("staff2", "Getting started with channels", "tutorials", "draft"),
            ("staff1", "Scheduled maintenance", "announcements", "draft"),
            ("manager", "Old policy", "announcements", "archived"),
        ]
        for author, title, slug, state in items:
            ctx = operation_for("createContentItem", principals[author])
            item = tchat.engine.create_in(
                ctx,
                tx,
                tchat.item,
                {
                    "title": title,
                    "summary": f"{title}, in short.",
                    "body": f"{title}. " * 20,
                    "category": slugs[slug],
                    "tags": [slug],
                    "platforms": ["web", "ios", "android"],
                },
            )
            if state != "draft":
                moved = {**item, "status": state}
                stamp = "publishedAt" if state == "published" else "archivedAt"
                moved[stamp] = ctx.timestamp
                tchat.engine.store_change(ctx, tx, tchat.item, item, moved, action=state)
        return principals["service"]

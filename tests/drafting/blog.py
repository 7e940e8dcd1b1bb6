"""A Blog API as a team publishes it: a plain OpenAPI spec with no ``x-`` declarations, OAuth-ish
snake_case tokens (``POST /token``), accounts with a role enum, posts with a slug, an author and
a draft status, comments nested under their post, an export. And the part of its app that
``conformance init --target`` calls: the login, the refresh and the logout."""

from __future__ import annotations

import json
import secrets
from typing import Any, ClassVar

from tests.plain_specs import JSON, document, json_answer, ref
from tests.servers import AnyMethod

USERNAME = "qa@example.com"
PASSWORD = "blog-password-7d1e"

SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
ID = {"type": "string", "format": "uuid"}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}}
ETAG = {"ETag": {"schema": {"type": "string"}}}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(name)}}}


def _operation(operation_id: str, answers: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "responses": answers, "security": SECURED, **more}


TOKENS = {
    "type": "object",
    "required": ["access_token", "refresh_token", "expires_in", "token_type"],
    "properties": {
        "access_token": {"type": "string"},
        "refresh_token": {"type": "string"},
        "expires_in": {"type": "integer"},
        "token_type": {"type": "string"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Credentials": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    "Tokens": TOKENS,
    "RefreshRequest": {
        "type": "object",
        "required": ["refresh_token"],
        "properties": {"refresh_token": {"type": "string"}},
    },
    "User": {
        "type": "object",
        "properties": {
            "id": ID,
            "username": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "editor", "reader"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "NewUser": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "editor", "reader"]},
        },
    },
    "Category": {"type": "object", "properties": {"id": ID, "name": {"type": "string"}}},
    "Post": {
        "type": "object",
        "properties": {
            "id": ID,
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "author_id": ID,
            "category_id": ID,
            "status": {"type": "string", "enum": ["draft", "published"]},
            "version": {"type": "integer"},
        },
    },
    "NewPost": {
        "type": "object",
        "required": ["title", "slug", "body"],
        "properties": {
            "title": {"type": "string"},
            "slug": {"type": "string"},
            "body": {"type": "string"},
            "category_id": ID,
        },
    },
    "Comment": {
        "type": "object",
        "properties": {"id": ID, "post_id": ID, "author_id": ID, "body": {"type": "string"}},
    },
    "NewComment": {
        "type": "object",
        "required": ["body"],
        "properties": {"body": {"type": "string"}},
    },
}


def _list_of(name: str) -> dict[str, Any]:
    return json_answer({"type": "array", "items": ref(name)}, f"A list of {name}")


BLOG: dict[str, Any] = document(
    "Blog",
    {
        "/token": {
            "post": {
                "operationId": "issue_token",
                "requestBody": _body("Credentials"),
                "responses": {"200": json_answer(ref("Tokens"), "A token pair")},
                "security": [],
            }
        },
        "/token/refresh": {
            "post": {
                "operationId": "refresh_token",
                "requestBody": _body("RefreshRequest"),
                "responses": {"200": json_answer(ref("Tokens"), "A new pair")},
                "security": [],
            }
        },
        "/logout": {"post": _operation("logout", {"204": {"description": "Logged out"}})},
        "/me": {"get": _operation("who_am_i", {"200": json_answer(ref("User"), "Me")})},
        "/users": {
            "post": _operation(
                "create_user",
                {"201": json_answer(ref("User"), "Created")},
                requestBody=_body("NewUser"),
            )
        },
        "/users/{user_id}": {
            "parameters": [_path_id("user_id")],
            "get": _operation("get_user", {"200": json_answer(ref("User"), "A user")}),
            "delete": _operation("delete_user", {"204": {"description": "Deleted"}}),
        },
        "/categories": {"get": _operation("list_categories", {"200": _list_of("Category")})},
        "/posts": {
            "get": _operation("list_posts", {"200": _list_of("Post")}),
            "post": _operation(
                "create_post",
                {"201": json_answer(ref("Post"), "Created")},
                requestBody=_body("NewPost"),
            ),
        },
        "/posts/{post_id}": {
            "parameters": [_path_id("post_id")],
            "get": _operation(
                "get_post", {"200": {**json_answer(ref("Post"), "A post"), "headers": ETAG}}
            ),
            "patch": _operation(
                "update_post",
                {"200": json_answer(ref("Post"), "Changed")},
                parameters=[IF_MATCH],
                requestBody=_body("NewPost"),
            ),
            "delete": _operation("delete_post", {"204": {"description": "Deleted"}}),
        },
        "/posts/{post_id}/comments": {
            "parameters": [_path_id("post_id")],
            "get": _operation("list_comments", {"200": _list_of("Comment")}),
            "post": _operation(
                "add_comment",
                {"201": json_answer(ref("Comment"), "Created")},
                requestBody=_body("NewComment"),
            ),
        },
        "/posts/{post_id}/comments/{comment_id}": {
            "parameters": [_path_id("post_id"), _path_id("comment_id")],
            "get": _operation("get_comment", {"200": json_answer(ref("Comment"), "A comment")}),
            "delete": _operation("delete_comment", {"204": {"description": "Deleted"}}),
        },
        "/reports/export": {
            "get": _operation("export_posts", {"200": _list_of("Post")}),
        },
    },
    {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
)


class BlogAuth(AnyMethod):
    """The Blog's login, refresh (single use) and logout; 404 for anything else. ``issued``
    (class-wide, cleared by each test) holds every token it gave, for a test to look for."""

    issued: ClassVar[list[str]] = []
    live: ClassVar[dict[str, str]] = {}  # refresh token -> its access token

    def _handle(self) -> None:
        body = self._json()
        if (self.command, self.path) == ("POST", "/token"):
            if body.get("username") == USERNAME and body.get("password") == PASSWORD:
                self.send_json(200, self._pair())
            else:
                self.send_json(401, {"detail": "bad credentials"})
        elif (self.command, self.path) == ("POST", "/token/refresh"):
            if self.live.pop(str(body.get("refresh_token")), None) is None:
                self.send_json(401, {"detail": "unknown refresh token"})
            else:
                self.send_json(200, self._pair())
        elif (self.command, self.path) == ("POST", "/logout"):
            access = self.headers.get("Authorization", "").removeprefix("Bearer ")
            known = access in self.live.values()
            self.send_json(204 if known else 401, None if known else {"detail": "no session"})
        else:
            self.send_json(404, {"detail": "Not Found"})

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            found = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def _pair(self) -> dict[str, Any]:
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.issued.extend([access, refresh])
        self.live[refresh] = access
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 900,
            "token_type": "bearer",
        }

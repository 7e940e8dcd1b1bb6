"""``tracker``: an issue tracker whose errors are RFC 9457 problem details
(``application/problem+json``: ``type``, ``title``, ``status``, ``detail``). Projects are
addressed by a unique string ``key`` a client chooses (and may change), issues are numbered per
project under them, and the key goes in an ``X-API-Key`` header.

Planted: a change of a project's key to one another project has answers 500 (a key collision in
an update), and a NUL byte in any string of a request body answers 500 (a database that refuses
it, unhandled)."""

from __future__ import annotations

from typing import Any

from tests.plain_specs import JSON, document, json_answer, ref
from tests.zoo._base import Refused, Route, ZooApp, integer, strings, validators

TOKEN = "tracker-zoo-key-90b3"  # the app's own API key
PROBLEM = "application/problem+json"

KEY = {"name": "key", "in": "path", "required": True, "schema": ref("ProjectKey")}
NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_WHY = {
    "401": "The API key is missing or wrong",
    "404": "No such project or issue",
    "409": "The key is taken",
    "422": "The request breaks the schema",
}


def _operation(
    operation_id: str, answers: dict[str, Any], errors: tuple[str, ...], **more: Any
) -> dict[str, Any]:
    problems = {
        status: {"description": _WHY[status], "content": {PROBLEM: {"schema": ref("Problem")}}}
        for status in ("401", *errors)
    }
    return {"operationId": operation_id, "responses": {**answers, **problems}, **more}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


def _one(schema: str) -> dict[str, Any]:
    return json_answer(ref(schema), schema)


def _many(schema: str) -> dict[str, Any]:
    return json_answer({"type": "array", "items": ref(schema)}, f"The {schema}s")


_GONE = {"204": {"description": "Deleted"}}
_TITLE = {"type": "string", "minLength": 1, "maxLength": 200}
_STATUS = {"type": "string", "enum": ["open", "closed"]}

SPEC = document(
    "Tracker",
    {
        "/projects": {
            "get": _operation("listProjects", {"200": _many("Project")}, ()),
            "post": _operation(
                "createProject",
                {"201": _one("Project")},
                ("409", "422"),
                requestBody=_body("NewProject"),
            ),
        },
        "/projects/{key}": {
            "parameters": [KEY],
            "get": _operation("getProject", {"200": _one("Project")}, ("404",)),
            "patch": _operation(
                "updateProject",
                {"200": _one("Project")},
                ("404", "409", "422"),
                requestBody=_body("ProjectChange"),
            ),
            "delete": _operation("deleteProject", _GONE, ("404",)),
        },
        "/projects/{key}/issues": {
            "parameters": [KEY],
            "get": _operation("listIssues", {"200": _many("Issue")}, ("404",)),
            "post": _operation(
                "createIssue", {"201": _one("Issue")}, ("404", "422"), requestBody=_body("NewIssue")
            ),
        },
        "/projects/{key}/issues/{number}": {
            "parameters": [KEY, NUMBER],
            "get": _operation("getIssue", {"200": _one("Issue")}, ("404", "422")),
            "patch": _operation(
                "updateIssue",
                {"200": _one("Issue")},
                ("404", "422"),
                requestBody=_body("IssueChange"),
            ),
            "delete": _operation("deleteIssue", _GONE, ("404", "422")),
        },
    },
    {
        "schemas": {
            "ProjectKey": {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,9}$"},
            "Project": {
                "type": "object",
                "required": ["key", "name"],
                "properties": {"key": ref("ProjectKey"), "name": {"type": "string"}},
            },
            "NewProject": {
                "type": "object",
                "required": ["key", "name"],
                "properties": {"key": ref("ProjectKey"), "name": _TITLE},
            },
            "ProjectChange": {
                "type": "object",
                "properties": {"key": ref("ProjectKey"), "name": _TITLE},
            },
            "Issue": {
                "type": "object",
                "required": ["number", "title", "status"],
                "properties": {
                    "number": {"type": "integer"},
                    "title": {"type": "string"},
                    "status": _STATUS,
                },
            },
            "NewIssue": {
                "type": "object",
                "required": ["title"],
                "properties": {"title": _TITLE, "status": _STATUS},
            },
            "IssueChange": {
                "type": "object",
                "properties": {"title": _TITLE, "status": _STATUS},
            },
            "Problem": {
                "type": "object",
                "required": ["type", "title", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                },
            },
        },
        "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    },
    openapi="3.1.0",
)
SPEC["security"] = [{"ApiKey": []}]

TITLES = {401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict"}


class Tracker(ZooApp):
    ROUTES = (
        Route("/projects", GET="list_projects", POST="create_project"),
        Route(
            "/projects/{key}", GET="get_project", PATCH="update_project", DELETE="delete_project"
        ),
        Route("/projects/{key}/issues", GET="list_issues", POST="create_issue"),
        Route(
            "/projects/{key}/issues/{number}",
            GET="get_issue",
            PATCH="update_issue",
            DELETE="delete_issue",
        ),
    )
    VALIDATORS = validators(SPEC)

    @classmethod
    def seeded(cls) -> dict[str, Any]:
        projects = {
            "CORE": {"key": "CORE", "name": "Core platform"},
            "WEB": {"key": "WEB", "name": "Website"},
        }
        issues = {
            ("CORE", 1): {"number": 1, "title": "Crash on start", "status": "open"},
            ("CORE", 2): {"number": 2, "title": "Slow search", "status": "closed"},
            ("WEB", 1): {"number": 1, "title": "Broken link", "status": "open"},
        }
        return {"projects": projects, "issues": issues, "next_issue": {"CORE": 2, "WEB": 1}}

    def authorised(self) -> bool:
        return self.headers.get("X-API-Key") == TOKEN

    def refuse(self, status: int, message: str, **headers: str) -> None:
        title = TITLES.get(status, "Unprocessable Content")
        problem = {"type": "about:blank", "title": title, "status": status, "detail": message}
        self.answer(status, problem, PROBLEM, **headers)

    def checked(self, schema: str) -> dict[str, Any]:
        """The body, valid by ``schema``; in planted mode a NUL byte in it crashes the store."""
        body: dict[str, Any] = self.valid_body(schema)
        if self.planted and any("\x00" in text for text in strings(body)):
            self.hit("nul-in-body")
            raise ValueError("invalid byte sequence for encoding UTF8: 0x00")
        return body

    # -- projects -------------------------------------------------------------------------------

    def list_projects(self) -> None:
        self.send_json(200, list(self.data["projects"].values()))

    def create_project(self) -> None:
        body = self.checked("NewProject")
        if body["key"] in self.data["projects"]:
            raise Refused(409, f"a project has the key {body['key']}")
        project = {"key": body["key"], "name": body["name"]}
        self.data["projects"][project["key"]] = project
        self.data["next_issue"][project["key"]] = 0
        self.send_json(201, project, Location=f"/projects/{project['key']}")

    def project(self, key: str) -> dict[str, Any]:
        if key not in self.data["projects"]:
            raise Refused(404, f"no project has the key {key}")
        return dict(self.data["projects"][key])

    def get_project(self, key: str) -> None:
        self.send_json(200, self.project(key))

    def update_project(self, key: str) -> None:
        project, change = self.project(key), self.checked("ProjectChange")
        moved = change.get("key", key)
        if moved != key and moved in self.data["projects"]:
            if self.planted:  # the primary key's unique index, unhandled
                self.hit("key-collision")
                raise KeyError(f"duplicate key value violates unique constraint: key={moved}")
            raise Refused(409, f"a project has the key {moved}")
        project.update({k: change[k] for k in ("key", "name") if k in change})
        del self.data["projects"][key]
        self.data["projects"][moved] = project
        self.data["next_issue"][moved] = self.data["next_issue"].pop(key)
        issues = self.data["issues"]
        for project_key, number in [k for k in issues if k[0] == key]:
            issues[(moved, number)] = issues.pop((project_key, number))
        self.send_json(200, project)

    def delete_project(self, key: str) -> None:
        self.project(key)
        del self.data["projects"][key]
        for gone in [k for k in self.data["issues"] if k[0] == key]:
            del self.data["issues"][gone]
        self.send_json(204)

    # -- issues ---------------------------------------------------------------------------------

    def list_issues(self, key: str) -> None:
        self.project(key)
        self.send_json(200, [i for k, i in self.data["issues"].items() if k[0] == key])

    def create_issue(self, key: str) -> None:
        body = self.checked("NewIssue")
        self.project(key)
        self.data["next_issue"][key] += 1
        number = self.data["next_issue"][key]
        issue = {"number": number, "title": body["title"], "status": body.get("status", "open")}
        self.data["issues"][(key, number)] = issue
        self.send_json(201, issue, Location=f"/projects/{key}/issues/{number}")

    def issue(self, key: str, raw: str) -> tuple[str, int]:
        number = integer(raw, "path.number")
        self.project(key)
        if (key, number) not in self.data["issues"]:
            raise Refused(404, f"{key} has no issue {number}")
        return key, number

    def get_issue(self, key: str, raw: str) -> None:
        self.send_json(200, self.data["issues"][self.issue(key, raw)])

    def update_issue(self, key: str, raw: str) -> None:
        found, change = self.issue(key, raw), self.checked("IssueChange")
        issue = {**self.data["issues"][found], **change}
        self.data["issues"][found] = issue
        self.send_json(200, issue)

    def delete_issue(self, key: str, raw: str) -> None:
        del self.data["issues"][self.issue(key, raw)]
        self.send_json(204)

"""``inventory``: a FastAPI style API. Its collection ``/items/`` with FastAPI's trailing slash
beside ``/items/{item_id}`` (the run found no resource there once, and deleted what it had not
made), integer item ids, a ``Location`` header on a create, a
bearer token, ``{"detail": …}`` errors and 422 ``HTTPValidationError`` answers for anything its
schema refuses, and a reset endpoint (``POST /admin/reset``, "Reset the database to its seed
data") that really wipes the items and seeds them again (with new ids, as a table whose
sequence goes on): a run that calls it destroys data.

Planted: a NUL byte in the ``q`` query answers 500; a ``limit`` over 2³¹-1 answers 500 (an
integer overflow: the clean app takes any int64, the planted one crashes past int32); a deleted
item is still served by ``GET /items/{item_id}`` (use after delete: it is only flagged)."""

from __future__ import annotations

from typing import Any

from tests.plain_specs import FASTAPI_ERRORS, JSON, document, json_answer, ref
from tests.zoo._base import Invalid, Refused, Route, ZooApp, integer, validators

TOKEN = "inventory-zoo-token-41c9"  # the app's own bearer token
INT32, INT64 = 2**31 - 1, 2**63 - 1

INVALID = json_answer(ref("HTTPValidationError"), "Validation Error")
UNAUTHORIZED = json_answer(ref("HTTPError"), "Not authenticated")
NOT_FOUND = json_answer(ref("HTTPError"), "Not Found")
ITEM_ID = {
    "name": "item_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "title": "Item Id"},
}


def _operation(
    operation_id: str, summary: str, responses: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return {
        "summary": summary,
        "operationId": operation_id,
        "responses": {**responses, "401": UNAUTHORIZED, "422": INVALID},
        "security": [{"HTTPBearer": []}],
        **more,
    }


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


_NAME = {"type": "string", "minLength": 1, "maxLength": 100, "title": "Name"}
_PRICE = {"type": "number", "minimum": 0, "title": "Price"}
_QUANTITY = {"type": "integer", "minimum": 0, "format": "int32", "title": "Quantity"}

SPEC = document(
    "Inventory",
    {
        "/items/": {
            "get": _operation(
                "list_items_items_get",
                "List Items",
                {
                    "200": json_answer(
                        {"type": "array", "items": ref("Item")}, "Successful Response"
                    )
                },
                parameters=[
                    _query(
                        "limit",
                        {
                            "type": "integer",
                            "format": "int64",
                            "minimum": 1,
                            "default": 20,
                            "title": "Limit",
                            "description": "Page size; at most 100 items are answered",
                        },
                    ),
                    _query(
                        "offset",
                        {
                            "type": "integer",
                            "format": "int64",
                            "minimum": 0,
                            "default": 0,
                            "title": "Offset",
                        },
                    ),
                    _query("q", {"type": "string", "title": "Q"}),
                ],
            ),
            "post": _operation(
                "create_item_items_post",
                "Create Item",
                {"201": json_answer(ref("Item"), "Successful Response")},
                requestBody=_body("ItemIn"),
            ),
        },
        "/items/{item_id}": {
            "get": _operation(
                "read_item_items__item_id__get",
                "Read Item",
                {"200": json_answer(ref("Item"), "Successful Response"), "404": NOT_FOUND},
                parameters=[ITEM_ID],
            ),
            "patch": _operation(
                "update_item_items__item_id__patch",
                "Update Item",
                {"200": json_answer(ref("Item"), "Successful Response"), "404": NOT_FOUND},
                parameters=[ITEM_ID],
                requestBody=_body("ItemPatch"),
            ),
            "delete": _operation(
                "delete_item_items__item_id__delete",
                "Delete Item",
                {"204": {"description": "Successful Response"}, "404": NOT_FOUND},
                parameters=[ITEM_ID],
            ),
        },
        "/admin/reset": {
            "post": _operation(
                "reset_database_admin_reset_post",
                "Reset the database to its seed data",
                {"200": json_answer(ref("Message"), "Successful Response")},
            )
        },
    },
    {
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["id", "name", "price", "quantity"],
                "properties": {
                    "id": {"type": "integer", "title": "Id"},
                    "name": {"type": "string", "title": "Name"},
                    "price": {"type": "number", "title": "Price"},
                    "quantity": {"type": "integer", "title": "Quantity"},
                },
                "title": "Item",
            },
            "ItemIn": {
                "type": "object",
                "required": ["name", "price"],
                "properties": {
                    "name": _NAME,
                    "price": _PRICE,
                    "quantity": {**_QUANTITY, "default": 0},
                },
                "title": "ItemIn",
            },
            "ItemPatch": {
                "type": "object",
                "properties": {"name": _NAME, "price": _PRICE, "quantity": _QUANTITY},
                "title": "ItemPatch",
            },
            "Message": {
                "type": "object",
                "required": ["detail"],
                "properties": {"detail": {"type": "string", "title": "Detail"}},
                "title": "Message",
            },
            **FASTAPI_ERRORS,
        },
        "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
    },
    openapi="3.1.0",
    version="0.1.0",
)

SEED = (
    {"name": "Widget", "price": 2.5, "quantity": 10},
    {"name": "Gadget", "price": 12.0, "quantity": 3},
    {"name": "Doohickey", "price": 0.75, "quantity": 0},
)
FIELDS = ("name", "price", "quantity")


class Inventory(ZooApp):
    ROUTES = (
        Route("/items/", GET="list_items", POST="create_item"),
        Route("/items/{item_id}", GET="read_item", PATCH="update_item", DELETE="delete_item"),
        Route("/admin/reset", POST="reset"),
    )
    VALIDATORS = validators(SPEC)

    @classmethod
    def seeded(cls) -> dict[str, Any]:
        data: dict[str, Any] = {"items": {}, "deleted": {}, "next_item": 0}
        cls.seed_into(data)
        return data

    @staticmethod
    def seed_into(data: dict[str, Any]) -> None:
        data["items"].clear()
        data["deleted"].clear()
        for fields in SEED:
            data["next_item"] += 1
            data["items"][data["next_item"]] = {"id": data["next_item"], **fields}

    def authorised(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def refuse(self, status: int, message: str, **headers: str) -> None:
        if status == 401:
            headers["WWW_Authenticate"] = "Bearer"
        self.send_json(status, {"detail": message}, **headers)

    def invalid(self, where: str, message: str) -> None:
        detail = [{"loc": where.split("."), "msg": message, "type": "value_error"}]
        self.send_json(422, {"detail": detail})

    def list_items(self) -> None:
        limit, offset = self.integer("limit", 20), self.integer("offset", 0)
        q = self.text("q")
        if self.planted and q is not None and "\x00" in q:
            self.hit("nul-in-q")
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        if self.planted and limit > INT32:
            self.hit("limit-overflow")
            raise OverflowError("Python int too large to convert to C int")
        if not 1 <= limit <= INT64 or not 0 <= offset <= INT64:
            raise Invalid("query.limit", "Input should be an int64, limit at least 1")
        found = [i for i in self.data["items"].values() if q is None or q in i["name"]]
        self.send_json(200, found[offset : offset + min(limit, 100)])

    def create_item(self) -> None:
        fields = {"quantity": 0, **self.valid_body("ItemIn")}
        item = {"id": self.next_id("next_item"), **{k: fields[k] for k in FIELDS}}
        self.data["items"][item["id"]] = item
        self.send_json(201, item, Location=f"/items/{item['id']}")

    def item(self, raw: str, *, reading: bool = False) -> dict[str, Any]:
        number = integer(raw, "path.item_id")
        found = self.data["items"].get(number)
        if found is None and reading and self.planted:  # deleted rows are only flagged
            found = self.data["deleted"].get(number)
            if found is not None:
                self.hit("use-after-delete")
        if found is None:
            raise Refused(404, "Item not found")
        return dict(found)

    def read_item(self, raw: str) -> None:
        self.send_json(200, self.item(raw, reading=True))

    def update_item(self, raw: str) -> None:
        item = self.item(raw)
        item.update({k: v for k, v in self.valid_body("ItemPatch").items() if k in FIELDS})
        self.data["items"][item["id"]] = item
        self.send_json(200, item)

    def delete_item(self, raw: str) -> None:
        item = self.item(raw)
        del self.data["items"][item["id"]]
        if self.planted:
            self.data["deleted"][item["id"]] = item
        self.send_json(204)

    def reset(self) -> None:
        self.body()
        self.seed_into(self.data)
        self.send_json(200, {"detail": "The database was reset to its seed data"})

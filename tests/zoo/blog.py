"""``blog``: a RealWorld (Conduit) style API. Articles are addressed by a slug made from their
title (a change of title moves the article), comments are nested under them with an ``int32``
id, bodies are wrapped (``{"article": {…}}``), errors are ``{"errors": {"body": […]}}`` (422 for
what the schema refuses), and the key goes in ``Authorization: Token <key>`` (an ``apiKey``
scheme: OpenAPI cannot say the prefix; the run is told it, ``CONFORMANCE_BLOG_TOKEN_PREFIX``).

Planted: a change of title whose slug is another article's answers 500 (a key collision in an
update), a comment id above 2³¹-1 answers 500 (an int32 overflow in a path id), and a change
of an article whose body the schema refuses is answered 200, the article as it was (as a
RealWorld backend on Django REST framework reads a body without its ``article``: a partial
update of nothing); its 404 for an absent slug comes first."""

from __future__ import annotations

import re
from typing import Any

from tests.plain_specs import JSON, document, json_answer, ref
from tests.zoo._base import NOT_JSON, Invalid, Refused, Route, ZooApp, integer, validators

TOKEN = "blog-zoo-key-7d2e"  # the app's own key
INT32 = 2**31 - 1

ERROR = json_answer(ref("GenericErrorModel"), "Unexpected error")
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
COMMENT_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "format": "int32"},
}


def _operation(
    operation_id: str, summary: str, answers: dict[str, Any], **more: Any
) -> dict[str, Any]:
    errors = {status: {**ERROR, "description": why} for status, why in _ERRORS.items()}
    documented = {**answers, **{s: errors[s] for s in more.pop("errors", ())}}
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {**documented, "401": errors["401"]},
        **more,
    }


_ERRORS = {
    "401": "Unauthorized",
    "404": "Not found",
    "409": "Conflict",
    "422": "Unexpected error",
}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


def _wrapped(member: str, schema: Any) -> dict[str, Any]:
    return {"type": "object", "required": [member], "properties": {member: schema}}


def _text(min_length: int = 0) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length} if min_length else {"type": "string"}


SPEC = document(
    "Conduit API",
    {
        "/articles": {
            "get": _operation(
                "GetArticles",
                "Get recent articles globally",
                {"200": json_answer(ref("MultipleArticlesResponse"), "Multiple articles")},
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    },
                ],
                errors=["422"],
            ),
            "post": _operation(
                "CreateArticle",
                "Create an article",
                {"201": json_answer(ref("SingleArticleResponse"), "Single article")},
                requestBody=_body("NewArticleRequest"),
                errors=["422"],
            ),
        },
        "/articles/{slug}": {
            "parameters": [SLUG],
            "get": _operation(
                "GetArticle",
                "Get an article",
                {"200": json_answer(ref("SingleArticleResponse"), "Single article")},
                errors=["404"],
            ),
            "put": _operation(
                "UpdateArticle",
                "Update an article",
                {"200": json_answer(ref("SingleArticleResponse"), "Single article")},
                requestBody=_body("UpdateArticleRequest"),
                errors=["404", "409", "422"],
            ),
            "delete": _operation(
                "DeleteArticle",
                "Delete an article",
                {"204": {"description": "No content"}},
                errors=["404"],
            ),
        },
        "/articles/{slug}/comments": {
            "parameters": [SLUG],
            "get": _operation(
                "GetArticleComments",
                "Get the comments of an article",
                {"200": json_answer(ref("MultipleCommentsResponse"), "Multiple comments")},
                errors=["404"],
            ),
            "post": _operation(
                "CreateArticleComment",
                "Comment on an article",
                {"201": json_answer(ref("SingleCommentResponse"), "Single comment")},
                requestBody=_body("NewCommentRequest"),
                errors=["404", "422"],
            ),
        },
        "/articles/{slug}/comments/{id}": {
            "parameters": [SLUG, COMMENT_ID],
            "get": _operation(
                "GetArticleComment",
                "Get a comment of an article",
                {"200": json_answer(ref("SingleCommentResponse"), "Single comment")},
                errors=["404", "422"],
            ),
            "delete": _operation(
                "DeleteArticleComment",
                "Delete a comment of an article",
                {"204": {"description": "No content"}},
                errors=["404", "422"],
            ),
        },
    },
    {
        "schemas": {
            "Article": {
                "type": "object",
                "required": ["slug", "title", "description", "body"],
                "properties": {
                    "slug": _text(),
                    "title": _text(),
                    "description": _text(),
                    "body": _text(),
                },
            },
            "NewArticle": {
                "type": "object",
                "required": ["title", "description", "body"],
                "properties": {"title": _text(1), "description": _text(), "body": _text()},
            },
            "UpdateArticle": {
                "type": "object",
                "properties": {"title": _text(1), "description": _text(), "body": _text()},
            },
            "Comment": {
                "type": "object",
                "required": ["id", "body"],
                "properties": {"id": {"type": "integer"}, "body": _text()},
            },
            "NewComment": {
                "type": "object",
                "required": ["body"],
                "properties": {"body": _text(1)},
            },
            "NewArticleRequest": _wrapped("article", ref("NewArticle")),
            "UpdateArticleRequest": _wrapped("article", ref("UpdateArticle")),
            "SingleArticleResponse": _wrapped("article", ref("Article")),
            "MultipleArticlesResponse": {
                "type": "object",
                "required": ["articles", "articlesCount"],
                "properties": {
                    "articles": {"type": "array", "items": ref("Article")},
                    "articlesCount": {"type": "integer"},
                },
            },
            "NewCommentRequest": _wrapped("comment", ref("NewComment")),
            "SingleCommentResponse": _wrapped("comment", ref("Comment")),
            "MultipleCommentsResponse": _wrapped(
                "comments", {"type": "array", "items": ref("Comment")}
            ),
            "GenericErrorModel": _wrapped(
                "errors", _wrapped("body", {"type": "array", "items": _text()})
            ),
        },
        "securitySchemes": {
            "Token": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <key>`",
            }
        },
    },
)
SPEC["security"] = [{"Token": []}]


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "article"


class Blog(ZooApp):
    ROUTES = (
        Route("/articles", GET="list_articles", POST="create_article"),
        Route("/articles/{slug}", GET="get_article", PUT="update_article", DELETE="delete_article"),
        Route("/articles/{slug}/comments", GET="list_comments", POST="create_comment"),
        Route("/articles/{slug}/comments/{id}", GET="get_comment", DELETE="delete_comment"),
    )
    VALIDATORS = validators(SPEC)

    @classmethod
    def seeded(cls) -> dict[str, Any]:
        dragon = {
            "slug": "how-to-train-your-dragon",
            "title": "How to train your dragon",
            "description": "Ever wonder how?",
            "body": "You have to believe",
        }
        welcome = {
            "slug": "welcome-to-conduit",
            "title": "Welcome to Conduit",
            "description": "A first post",
            "body": "Hello",
        }
        comments = {
            1: {"id": 1, "body": "Thank you so much!", "article": dragon["slug"]},
            2: {"id": 2, "body": "Welcome!", "article": welcome["slug"]},
        }
        articles = {a["slug"]: a for a in (dragon, welcome)}
        return {"articles": articles, "comments": comments, "next_comment": 2}

    def authorised(self) -> bool:
        return self.headers.get("Authorization") == f"Token {TOKEN}"

    def refuse(self, status: int, message: str, **headers: str) -> None:
        self.send_json(status, {"errors": {"body": [message]}}, **headers)

    # -- articles -------------------------------------------------------------------------------

    def list_articles(self) -> None:
        limit, offset = self.integer("limit", 20), self.integer("offset", 0)
        if not 1 <= limit <= 100 or offset < 0:
            raise Invalid("query", "limit must be 1 to 100 and offset at least 0")
        articles = list(self.data["articles"].values())
        page = articles[offset : offset + limit]
        self.send_json(200, {"articles": page, "articlesCount": len(articles)})

    def create_article(self) -> None:
        fields = self.valid_body("NewArticleRequest")["article"]
        taken = self.data["articles"]
        unique = slug = slugify(fields["title"])
        for n in range(2, len(taken) + 2):  # as Conduit's apps do: a suffix, never a refusal
            if unique not in taken:
                break
            unique = f"{slug}-{n}"
        article = {"slug": unique, **{k: fields[k] for k in ("title", "description", "body")}}
        taken[unique] = article
        self.send_json(201, {"article": article})

    def article(self, slug: str) -> dict[str, Any]:
        if slug not in self.data["articles"]:
            raise Refused(404, "article not found")
        return dict(self.data["articles"][slug])

    def get_article(self, slug: str) -> None:
        self.send_json(200, {"article": self.article(slug)})

    def update_article(self, slug: str) -> None:
        body = self.body()
        if body is NOT_JSON or not self.VALIDATORS["UpdateArticleRequest"].is_valid(body):
            if self.planted:
                unchanged = self.article(slug)  # an absent slug is still a 404
                self.hit("update-unvalidated")
                return self.send_json(200, {"article": unchanged})
            raise Invalid("body", "Input should be a valid UpdateArticleRequest")
        fields = body["article"]
        article = self.article(slug)
        article.update({k: fields[k] for k in ("title", "description", "body") if k in fields})
        moved = slugify(article["title"]) if "title" in fields else slug
        if moved != slug and moved in self.data["articles"]:
            if self.planted:  # the store's unique index on slug, unhandled
                self.hit("slug-collision")
                raise KeyError(f"duplicate key value violates unique constraint: slug={moved}")
            raise Refused(409, f"an article already has the slug {moved}")
        article["slug"] = moved
        del self.data["articles"][slug]
        self.data["articles"][moved] = article
        for comment in self.data["comments"].values():
            if comment["article"] == slug:
                comment["article"] = moved
        self.send_json(200, {"article": article})

    def delete_article(self, slug: str) -> None:
        self.article(slug)
        del self.data["articles"][slug]
        comments = self.data["comments"]
        for number in [n for n, c in comments.items() if c["article"] == slug]:
            del comments[number]
        self.send_json(204)

    # -- comments -------------------------------------------------------------------------------

    def list_comments(self, slug: str) -> None:
        self.article(slug)
        found = [_shown(c) for c in self.data["comments"].values() if c["article"] == slug]
        self.send_json(200, {"comments": found})

    def create_comment(self, slug: str) -> None:
        fields = self.valid_body("NewCommentRequest")["comment"]
        self.article(slug)
        number = self.next_id("next_comment")
        self.data["comments"][number] = {"id": number, "body": fields["body"], "article": slug}
        self.send_json(201, {"comment": _shown(self.data["comments"][number])})

    def comment(self, slug: str, raw: str) -> int:
        number = integer(raw, "path.id")
        if self.planted and number > INT32:  # an int32 column, read before anything else
            self.hit("int32-comment-id")
            raise OverflowError(f"{number} does not fit in an int32")
        self.article(slug)
        found = self.data["comments"].get(number)
        if found is None or found["article"] != slug:
            raise Refused(404, "comment not found")
        return number

    def get_comment(self, slug: str, raw: str) -> None:
        self.send_json(200, {"comment": _shown(self.data["comments"][self.comment(slug, raw)])})

    def delete_comment(self, slug: str, raw: str) -> None:
        del self.data["comments"][self.comment(slug, raw)]
        self.send_json(204)


def _shown(comment: dict[str, Any]) -> dict[str, Any]:
    return {"id": comment["id"], "body": comment["body"]}

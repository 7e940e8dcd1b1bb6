"""`conformance init` on plain third-party specs (no ``x-`` declarations): the Blog API of
`tests.drafting.blog` and the FastAPI Notes spec. What it drafts, what it lists as not
inferred, the file it writes, the command's exit codes and lines, and ``--target``."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import run
from conformance.contract import load_overlay, load_spec
from conformance.drafting import Draft, draft
from tests.drafting.blog import BLOG, PASSWORD, USERNAME, BlogAuth
from tests.plain_specs import ref, written
from tests.servers import serving

FIXTURES = Path(__file__).parent.parent / "fixtures" / "specs"


@pytest.fixture
def blog(tmp_path: Path) -> Path:
    return written(tmp_path, "blog", BLOG)


def declared(found: Draft, extension: str) -> dict[str, Any]:
    """target -> value of the draft's actions of ``extension``."""
    return {action.target: action.value for action in found.of(extension)}


def init(*arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["init", *arguments], out, err)
    return code, out.getvalue(), err.getvalue()


# -- what is drafted -------------------------------------------------------------------------


def test_init_drafts_the_auth_flow_of_a_token_endpoint(blog: Path) -> None:
    (flow,) = declared(draft(load_spec(blog)), "x-auth-flow").values()
    assert flow == {
        "scheme": "bearer",
        "login": {
            "operation": "issue_token",
            "username": "/username",
            "password": "/password",
            "access_token": "/access_token",
            "refresh_token": "/refresh_token",
            "expires_in": "/expires_in",
        },
        "refresh": {
            "operation": "refresh_token",
            "token_in": "body",
            "token_field": "/refresh_token",
            "access_token": "/access_token",
            "refresh_token": "/refresh_token",
            "expires_in": "/expires_in",
        },
        "logout": {"operation": "logout"},
        "verify": {"operation": "who_am_i"},
        "accounts": {
            "operation": "create_user",
            "username": "/username",
            "password": "/password",
            "role": "/role",
            "id": "/id",
            "delete": "delete_user",
        },
    }


def test_init_drafts_roles_budgets_references_keys_and_owners(blog: Path) -> None:
    found = draft(load_spec(blog))
    # the role enum of an account, the least privileged first
    assert declared(found, "x-roles") == {"$": ["reader", "editor", "admin"]}
    assert declared(found, "x-latency-budget-ms") == {
        "$": 200,
        "$.paths['/token'].post": 500,  # it checks a password
        "$.paths['/users'].post": 500,  # it hashes one
        "$.paths['/reports/export'].get": 3000,
    }
    assert declared(found, "x-references") == {
        "$.paths['/posts/{post_id}/comments'].parameters[0].schema": "Post",
        "$.paths['/posts/{post_id}/comments/{comment_id}'].parameters[0].schema": "Post",
        "$.components.schemas.Post.properties.author_id": "User",
        "$.components.schemas.Post.properties.category_id": "Category",
        "$.components.schemas.NewPost.properties.category_id": "Category",
        "$.components.schemas.Comment.properties.post_id": "Post",
        "$.components.schemas.Comment.properties.author_id": "User",
    }
    assert declared(found, "x-unique") == {
        "$.components.schemas.User": ["username"],
        "$.components.schemas.Post": ["slug"],
    }
    assert declared(found, "x-owner") == {
        "$.components.schemas.Post": {"property": "author_id", "while": {"status": ["draft"]}},
        "$.components.schemas.Comment": {"property": "author_id"},
    }
    assert all(action.why for action in found.actions)


def test_init_lists_what_it_could_not_infer_with_its_guesses(blog: Path) -> None:
    found = draft(load_spec(blog))
    said = {gap.extension: gap.what for gap in found.gaps}
    assert set(said) == {"x-owner", "x-transitions", "x-roles", "x-rate-limit", "x-contract"}
    assert "Post.status" in said["x-transitions"]
    assert "who may call it" in said["x-roles"]
    guesses = {gap.guess.extension: gap.guess.value for gap in found.gaps if gap.guess}
    assert guesses == {"x-owner": {"property": "id"}, "x-contract": "strict"}
    # read as they are: each kind's create, delete and concurrency
    assert "Post (/posts): create_post, delete_post; version, If-Match, ETag" in found.notes


def test_a_spec_without_a_login_gets_the_rest_and_says_why_not(tmp_path: Path) -> None:
    found = draft(load_spec(FIXTURES / "fastapi_notes.json"))
    assert not found.of("x-auth-flow")
    (gap,) = [gap.what for gap in found.gaps if gap.extension == "x-auth-flow"]
    assert gap.startswith("x-auth-flow: no login found")
    assert gap.endswith("give the run a token (CONFORMANCE_<API>_TOKEN), or declare x-auth-flow")
    assert declared(found, "x-latency-budget-ms") == {"$": 200}


def test_an_oauth2_form_login_is_left_to_the_run_s_oauth2_flow(tmp_path: Path) -> None:
    spec = copy.deepcopy(BLOG)  # the OAuth2 password grant: a form body, not JSON
    token = spec["paths"]["/token"]["post"]
    token["requestBody"] = {
        "content": {"application/x-www-form-urlencoded": {"schema": ref("Credentials")}}
    }
    spec["components"]["securitySchemes"]["oauth"] = {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "/token", "scopes": {}}},
    }
    found = draft(load_spec(written(tmp_path, "blog", spec)))
    assert not found.of("x-auth-flow")
    (gap,) = [gap.what for gap in found.gaps if gap.extension == "x-auth-flow"]
    assert gap.endswith("the run logs in through the password flow of the oauth2 scheme oauth"
                        " (its token URL) with the API's credentials")  # fmt: skip


def test_declarations_a_spec_makes_are_kept_not_drafted(tmp_path: Path) -> None:
    spec = copy.deepcopy(BLOG)
    spec["components"]["schemas"]["Post"]["x-unique"] = [["author_id", "slug"]]
    spec["x-latency-budget-ms"] = 150
    found = draft(load_spec(written(tmp_path, "blog", spec)))
    assert "$.components.schemas.Post" not in declared(found, "x-unique")
    assert "$" not in declared(found, "x-latency-budget-ms")
    assert found.kept == ("x-latency-budget-ms (the root)", "x-unique on Post")


def test_an_id_behind_a_shared_ref_is_listed_not_drafted(tmp_path: Path) -> None:
    spec = copy.deepcopy(BLOG)
    spec["components"]["schemas"]["Uuid"] = {"type": "string", "format": "uuid"}
    spec["components"]["schemas"]["Comment"]["properties"]["post_id"] = ref("Uuid")
    found = draft(load_spec(written(tmp_path, "blog", spec)))
    assert "$.components.schemas.Comment.properties.post_id" not in declared(found, "x-references")
    assert any(
        gap.what.startswith("x-references: Comment.post_id (Post) seem to hold ids")
        for gap in found.gaps
    )


# -- the file and the command ---------------------------------------------------------------


def test_init_writes_an_overlay_that_applies_cleanly_and_says_what_is_left(
    blog: Path, tmp_path: Path
) -> None:
    out = tmp_path / "blog.overlay.yaml"
    code, said, err = init("--spec", str(blog), "--out", str(out))
    assert (code, err) == (0, "")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Drafted by `conformance init` from blog.json")
    assert "# Could not infer (declare by hand where it holds):" in text
    assert "#   - x-rate-limit: the limits are the deployment's" in text
    assert "#       x-contract: strict" in text  # a guess, commented out
    overlay = load_overlay(out)
    assert all(action.description for action in overlay.actions)
    spec = load_spec(blog, overlays=[out])
    assert spec.overlay_problems == ()
    assert spec.declaration_problems == ()
    assert spec.declarations.auth_flow is not None
    assert spec.declarations.strict is False  # never drafted: a comment says why
    lines = said.splitlines()
    assert lines[0] == f"conformance init: drafted {out} from blog.json: 17 declarations"
    assert any(line.startswith("  x-unique") and "User, Post" in line for line in lines)
    assert "Not inferred (5; at the end of the file, with guesses to check):" in lines
    assert lines[-1] == f"  conformance run --target blog=URL --spec {blog} --overlay {out}"


def test_init_refuses_to_replace_a_file_without_force(blog: Path, tmp_path: Path) -> None:
    out = tmp_path / "conformance.overlay.yaml"
    out.write_text("mine\n", encoding="utf-8")
    code, said, err = init("--spec", str(blog), "--out", str(out))
    assert (code, said) == (3, "")
    assert err == (f"conformance init: {out} exists; give --force to replace it, or --out FILE\n")
    assert out.read_text(encoding="utf-8") == "mine\n"
    code, _, err = init("--spec", str(blog), "--out", str(out), "--force")
    assert (code, err) == (0, "")
    assert out.read_text(encoding="utf-8").startswith("# Drafted by")


@pytest.mark.parametrize(
    ("arguments", "sentence"),
    [
        (["--spec", "missing.yaml"], "missing.yaml: no such file"),
        (["--spec", "{blog}", "--target", "ftp://x"], "the URL must start with http://"),
        (["--spec", "{blog}", "--target", "9x=http://x"], "must be letters, digits and _"),
        ([], "the following arguments are required: --spec"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_3(
    blog: Path, tmp_path: Path, arguments: list[str], sentence: str
) -> None:
    given = [a.replace("{blog}", str(blog)) for a in arguments]
    code, said, err = init(*given, "--out", str(tmp_path / "out.yaml"))
    assert (code, said) == (3, "")
    assert sentence in err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "out.yaml").exists()


# -- --target: the login tried once ---------------------------------------------------------


@pytest.fixture
def blog_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    BlogAuth.issued.clear()
    BlogAuth.live.clear()
    for name in ("USERNAME", "PASSWORD", "TOKEN"):
        monkeypatch.delenv(f"CONFORMANCE_BLOG_{name}", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no conformance.toml of the checkout's
    with serving(BlogAuth) as url:
        yield url


def test_target_confirms_the_login_refresh_and_logout_without_saying_a_secret(
    blog: Path, tmp_path: Path, blog_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFORMANCE_BLOG_USERNAME", USERNAME)
    monkeypatch.setenv("CONFORMANCE_BLOG_PASSWORD", PASSWORD)
    out = tmp_path / "draft.yaml"
    code, said, err = init("--spec", str(blog), "--target", f"blog={blog_app}", "--out", str(out))
    assert (code, err) == (0, "")
    targets = [line.split("target", 1)[1].strip() for line in said.splitlines()
               if line.startswith("  target")]  # fmt: skip
    assert targets == [
        "login answered 200: access token at /access_token, refresh token at /refresh_token,"
        " expires in at /expires_in",
        "refresh answered 200: access token at /access_token, refresh token at /refresh_token,"
        " expires in at /expires_in",
        "logout answered 204: confirmed",
    ]
    assert len(BlogAuth.issued) == 4  # one login, one refresh: bounded
    written_text = out.read_text(encoding="utf-8")
    for secret in [PASSWORD, *BlogAuth.issued]:
        assert secret not in said
        assert secret not in written_text
    assert "confirmed against the API" in written_text
    assert f"--target blog={blog_app} --spec" in said.splitlines()[-1]


def test_target_corrects_a_token_the_answer_holds_elsewhere(
    tmp_path: Path, blog_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = copy.deepcopy(BLOG)  # the spec says `token`; the app answers `access_token`
    tokens = spec["components"]["schemas"]["Tokens"]["properties"]
    tokens["token"] = tokens.pop("access_token")
    path = written(tmp_path, "blog", spec)
    monkeypatch.setenv("CONFORMANCE_BLOG_USERNAME", USERNAME)
    monkeypatch.setenv("CONFORMANCE_BLOG_PASSWORD", PASSWORD)
    out = tmp_path / "draft.yaml"
    code, said, _ = init("--spec", str(path), "--target", blog_app, "--out", str(out))
    assert code == 0
    assert "access token at /access_token (corrected: the spec said /token)" in said
    overlay = load_overlay(out)
    assert overlay.actions[0].update["x-auth-flow"]["login"]["access_token"] == "/access_token"


def test_target_with_refused_or_missing_credentials_keeps_the_draft_unconfirmed(
    blog: Path, tmp_path: Path, blog_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "draft.yaml"
    code, said, _ = init("--spec", str(blog), "--target", f"blog={blog_app}", "--out", str(out))
    assert code == 0
    assert "set CONFORMANCE_BLOG_USERNAME and CONFORMANCE_BLOG_PASSWORD" in said
    assert BlogAuth.issued == []  # nothing was sent
    monkeypatch.setenv("CONFORMANCE_BLOG_USERNAME", USERNAME)
    monkeypatch.setenv("CONFORMANCE_BLOG_PASSWORD", "wrong-password-5e2a")
    code, said, _ = init(
        "--spec", str(blog), "--target", f"blog={blog_app}", "--out", str(out), "--force"
    )
    assert code == 0
    assert f"login at {blog_app}/token answered 401: the login is not confirmed" in said
    assert "check CONFORMANCE_BLOG_USERNAME and _PASSWORD" in said
    assert "wrong-password-5e2a" not in said
    assert out.exists()

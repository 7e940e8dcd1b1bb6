"""CONTRACT.md §3 (pagination) and §5 (concurrency) on the running reference backend."""

from __future__ import annotations

import math
import threading
import uuid
from typing import Any

import httpx

from tests.reference.conftest import Api, assert_error, unique
from tests.reference.test_operations import INSTANCE, ITEM, SCHOOL, school_body


def check_page(page: dict[str, Any], limit: int) -> None:
    """The invariants every PaginatedResponse holds (CONTRACT.md §3)."""
    assert len(page["data"]) <= limit
    assert page["limit"] == limit
    assert page["totalPages"] == math.ceil(page["total"] / limit)
    assert page["hasMore"] == (page["page"] < page["totalPages"])
    assert page["nextPage"] == (page["page"] + 1 if page["hasMore"] else None)
    assert page["prevPage"] == (page["page"] - 1 if page["page"] > 1 else None)


def test_pages_hold_their_invariants_and_walk_each_item_once(gloria: Api) -> None:
    marker = f"Walk{unique()}"
    created = {
        gloria.client.post("schools", json={**school_body(gloria), "name": f"{marker} {n}"}).json()[
            "data"
        ]["id"]
        for n in range(7)
    }
    seen: list[str] = []
    page_number = 1
    while True:
        page = gloria.client.get(
            "schools", params={"search": marker, "limit": 3, "page": page_number, "sortBy": "name"}
        ).json()
        check_page(page, 3)
        assert page["total"] == 7
        seen += [school["id"] for school in page["data"]]
        if not page["hasMore"]:
            break
        page_number = page["nextPage"]
    assert sorted(seen) == sorted(created)


def test_a_page_past_the_end_is_empty_and_default_limit_is_20(gloria: Api) -> None:
    page = gloria.client.get("schools", params={"page": 9999}).json()
    check_page(page, 20)
    assert page["data"] == []
    assert page["hasMore"] is False


def test_tchat_lists_are_pages_inside_the_envelope(tchat: Api) -> None:
    body = tchat.client.get("content/items", params={"limit": 2}).json()
    assert set(body) >= {"data", "timestamp"}
    check_page(body["data"], 2)


def test_a_date_filter_at_the_edge_of_the_calendar_is_answered_not_a_500(tchat: Api) -> None:
    # 0001-01-01T02:09:55+18:45 is a valid date-time whose UTC instant falls before year 1 (a
    # fuzzing run's find): it filters as the earliest instant there is, as 9999's latest does
    category = tchat.client.get("content/categories").json()["data"][0]["id"]
    path = f"content/categories/{category}/items"
    for edge in ("0001-01-01T02:09:55+18:45", "9999-12-31T23:59:59-18:00"):
        for name in ("startDate", "endDate"):
            assert tchat.client.get(path, params={name: edge}).status_code == 200, (name, edge)
    early = tchat.client.get(path, params={"endDate": "0001-01-01T02:09:55+18:45"}).json()
    assert early["data"]["data"] == []


def test_versions_start_at_1_and_count_every_change_with_matching_etags(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    assert school["version"] == 1
    for expected in (2, 3):
        response = gloria.client.patch(f"schools/{school['id']}", json={"name": f"Name {expected}"})
        assert response.json()["data"]["version"] == expected
        assert response.headers["ETag"] == f'"{expected}"'
    fetched = gloria.client.get(f"schools/{school['id']}")
    assert fetched.headers["ETag"] == '"3"'
    assert fetched.json()["data"]["name"] == "Name 3"  # the stored resource is what was answered


def test_stale_if_match_or_body_version_is_409_and_changes_nothing(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    path = f"schools/{school['id']}"
    gloria.client.patch(path, json={"name": "Moved on"})
    before = gloria.client.get(path)
    for kwargs in (
        {"headers": {"If-Match": '"1"'}, "json": {"name": "Lost update"}},
        {"json": {"name": "Lost update", "version": 1}},
        {"headers": {"If-Match": 'W/"2"'}, "json": {"name": "Weak tags never match"}},
        {"headers": {"If-Match": "garbage"}, "json": {"name": "Not a tag"}},
    ):
        body = assert_error(gloria.client.patch(path, **kwargs), 409, "VERSION_CONFLICT")
        assert body["details"] == {"currentVersion": 2}
    after = gloria.client.get(path)
    assert after.json()["data"] == before.json()["data"]
    assert after.headers["ETag"] == before.headers["ETag"] == '"2"'


def test_if_match_current_or_star_applies_and_a_disagreeing_version_is_400(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    path = f"schools/{school['id']}"
    assert (
        gloria.client.patch(path, headers={"If-Match": '"1"'}, json={"name": "A"}).status_code
        == 200
    )
    assert (
        gloria.client.patch(path, headers={"If-Match": '"9", "2"'}, json={"name": "B"}).status_code
        == 200
    )
    assert (
        gloria.client.patch(path, headers={"If-Match": "*"}, json={"name": "C"}).status_code == 200
    )
    response = gloria.client.patch(
        path, headers={"If-Match": '"4"'}, json={"name": "D", "version": 3}
    )
    assert_error(response, 400, "VALIDATION_FAILED")
    assert gloria.client.get(path).json()["data"]["version"] == 4


def test_delete_with_a_stale_if_match_is_409_and_the_resource_stays(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    path = f"schools/{school['id']}"
    gloria.client.patch(path, json={"name": "Changed"})
    assert_error(gloria.client.delete(path, headers={"If-Match": '"1"'}), 409, "VERSION_CONFLICT")
    assert gloria.client.get(path).status_code == 200
    assert gloria.client.delete(path, headers={"If-Match": '"2"'}).status_code == 204


def test_a_duplicate_on_update_is_409_and_changes_nothing(gloria: Api) -> None:
    first, second = SCHOOL.make(gloria), SCHOOL.make(gloria)
    path = f"schools/{second['id']}"
    response = gloria.client.patch(path, json={"code": first["code"], "name": "Renamed too"})
    assert_error(response, 409, "DUPLICATE")
    assert gloria.client.get(path).json()["data"] == second


def test_parallel_updates_from_one_version_have_exactly_one_winner(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    path = f"{gloria.url}/schools/{school['id']}"
    headers = dict(gloria.client.headers)
    start = threading.Barrier(8)
    statuses: list[int] = []
    winners: list[str] = []

    def update(n: int) -> None:
        with httpx.Client(headers=headers, timeout=30) as client:
            start.wait()
            response = client.patch(path, headers={"If-Match": '"1"'}, json={"name": f"Writer {n}"})
        statuses.append(response.status_code)
        if response.status_code == 200:
            winners.append(response.json()["data"]["name"])

    threads = [threading.Thread(target=update, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 7
    final = gloria.client.get(f"schools/{school['id']}").json()["data"]
    assert (final["version"], final["name"]) == (2, winners[0])


def test_illegal_transitions_are_409_and_final_states_cannot_change(
    gloria: Api, tchat: Api
) -> None:
    instance = INSTANCE.make(gloria)
    path = f"workflow-instances/{instance['id']}"
    assert_error(gloria.client.patch(path, json={"status": "approved"}), 409, "INVALID_TRANSITION")
    assert gloria.client.patch(path, json={"status": "cancelled"}).status_code == 200
    assert_error(gloria.client.patch(path, json={"currentStep": 1}), 409, "INVALID_TRANSITION")
    history = gloria.client.get(path).json()["data"]["history"]
    assert [entry["status"] for entry in history] == ["pending", "cancelled"]
    item = ITEM.make(tchat)
    archive = f"content/items/{item['id']}/archive"
    assert tchat.client.post(archive, json={}).json() == {"success": True}
    for again in (archive, f"content/items/{item['id']}/publish"):
        assert_error(tchat.client.post(again, json={}), 409, "INVALID_TRANSITION")


def test_deleting_a_parent_deletes_its_children_and_nulls_optional_references(gloria: Api) -> None:
    school = SCHOOL.make(gloria)
    department = gloria.client.post(
        "departments", json={"schoolId": school["id"], "code": "SCI", "name": "Science"}
    ).json()["data"]
    workflow_template = gloria.client.post(
        "workflow-templates",
        json={"name": f"T{unique()}", "category": "review",
              "steps": [{"name": "Review", "approverRole": "admin", "slaHours": 8}]},
    ).json()["data"]  # fmt: skip
    workflow = gloria.client.post(
        "workflows",
        json={"name": f"W{unique()}", "templateId": workflow_template["id"], "trigger": "manual",
              "schoolId": school["id"]},
    ).json()["data"]  # fmt: skip
    assert gloria.client.delete(f"schools/{school['id']}").status_code == 204
    assert gloria.client.get(f"departments/{department['id']}").status_code == 404
    kept = gloria.client.get(f"workflows/{workflow['id']}").json()["data"]
    assert (kept["schoolId"], kept["version"]) == (None, 2)


def test_bulk_applies_the_good_items_and_reports_the_rest_unchanged(tchat: Api) -> None:
    good, stale = ITEM.make(tchat), ITEM.make(tchat)
    tchat.client.put(f"content/items/{stale['id']}", json={"title": "Moved on"})
    before = tchat.client.get(f"content/items/{stale['id']}").json()["data"]
    missing = str(uuid.uuid4())
    result = tchat.client.post(
        "content/items/bulk",
        json={"operations": [
            {"id": good["id"], "changes": {"title": "Bulk title"}},
            {"id": missing, "changes": {"title": "Nobody"}},
            {"id": stale["id"], "changes": {"title": "Lost"}, "version": 1},
        ]},
    ).json()["data"]  # fmt: skip
    assert result["successfulOperations"] == 1
    assert [item["title"] for item in result["items"]] == ["Bulk title"]
    codes = {failure["index"]: failure["code"] for failure in result["failedOperations"]}
    assert codes == {1: "NOT_FOUND", 2: "VERSION_CONFLICT"}
    assert tchat.client.get(f"content/items/{stale['id']}").json()["data"] == before


def test_every_content_change_is_a_version_and_revert_restores_one(tchat: Api) -> None:
    item = ITEM.make(tchat)
    path = f"content/items/{item['id']}"
    tchat.client.put(path, json={"title": "Second"})
    tchat.client.post(f"{path}/publish", json={})
    versions = tchat.client.get(f"{path}/versions").json()["data"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    first = versions[-1]
    reverted = tchat.client.post(f"{path}/revert", json={"versionId": first["id"]}).json()["data"]
    assert (reverted["title"], reverted["version"], reverted["status"]) == (
        item["title"],
        4,
        "published",
    )
    past = tchat.client.get(path, params={"version": 2}).json()["data"]
    assert (past["title"], past["version"]) == ("Second", 2)

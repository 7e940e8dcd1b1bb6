"""What the stateful phase sends so its chains can go on: fresh unique keys, no made-up
references (`conformance.suite._unique`)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from conformance.contract import load_spec
from conformance.contract._resources import item_schema_name
from conformance.suite._unique import fresh_keys, without_made_up_references

SPEC = load_spec(Path("specs/gloria.openapi.yaml"))


def _schemas(operation_id: str) -> tuple[object, object]:
    operation = SPEC.operation(operation_id)
    assert operation is not None
    name = item_schema_name(SPEC, operation)
    assert name is not None
    return SPEC.request_schema(operation), SPEC.data["components"]["schemas"][name]


def test_a_create_gets_fresh_unique_keys_that_keep_their_pattern() -> None:
    request, item = _schemas("createUser")
    body = {"email": "a@b.co", "nip": "0", "fullName": "A", "password": "p4ssw0rd!"}
    seen = set()
    for _ in range(50):
        fresh = fresh_keys(SPEC, request, item, body)
        assert fresh is not None
        assert fresh["email"] != body["email"]
        assert fresh["fullName"] == "A"
        nip, _ = SPEC.resolve({"$ref": "#/components/schemas/Nip"})
        assert re.fullmatch(nip["pattern"], fresh["nip"])
        seen.add((fresh["email"], fresh["nip"]))
    assert len(seen) == 50


def test_a_reference_in_a_unique_group_is_kept_and_the_text_key_made_new() -> None:
    request, item = _schemas("createPosition")  # x-unique: [departmentId, code]
    department = str(uuid.uuid4())
    body = {"departmentId": department, "code": "A", "title": "T", "grade": 1}
    fresh = fresh_keys(SPEC, request, item, body)
    assert fresh is not None
    assert fresh["departmentId"] == department
    assert fresh["code"] != "A"
    # a body without a unique key it sends is left as it is
    assert fresh_keys(SPEC, request, item, {"title": "T"}) is None


def test_optional_references_to_ids_the_run_did_not_make_are_left_out() -> None:
    request, _ = _schemas("updateUser")
    mine, made_up = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"fullName": "B", "schoolId": made_up, "departmentId": mine, "roleIds": [mine, made_up],
            "positionId": None, "version": 2}  # fmt: skip
    kept = without_made_up_references(SPEC, request, body, {mine})
    assert kept == {"fullName": "B", "departmentId": mine, "positionId": None, "version": 2}
    # nothing to leave out; and not when only the version would be left to send
    assert without_made_up_references(SPEC, request, {"fullName": "B"}, set()) is None
    assert (
        without_made_up_references(SPEC, request, {"schoolId": made_up, "version": 2}, set())
        is None
    )
    # a required reference stays, whatever it names (a link filled it, or the case is a 404)
    create, _ = _schemas("createPosition")
    body = {"departmentId": made_up, "code": "A", "title": "T", "grade": 1}
    assert without_made_up_references(SPEC, create, body, set()) is None


def test_fresh_keys_stay_fresh_where_hypothesis_seeds_random() -> None:
    # the engine's hooks run inside hypothesis, which seeds `random` alike for every case
    import random

    request, item = _schemas("createSchool")
    drawn = set()
    for _ in range(20):
        random.seed(0)
        fresh = fresh_keys(SPEC, request, item, {"npsn": "00000000", "code": "AA", "name": "S"})
        assert fresh is not None
        drawn.add(fresh["npsn"])
    assert len(drawn) == 20

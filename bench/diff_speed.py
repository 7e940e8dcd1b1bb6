"""``conformance diff`` on the bundled specs: each against itself, and against a copy with 50
changes (one per operation, in turn: a required query parameter added, a response member
removed, a request property made required, an operation deprecated, a documented status added),
timed as the command runs it (both files read and parsed, the diff, the text output), the best
and the median of ``--repeat`` runs in one process. Writes ``reports/bench-diff.json``.

    .venv/bin/python bench/diff_speed.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.contract import BUNDLED_APIS, bundled_spec, read_document
from conformance.diffing import DiffOptions, command, diff_result

CHANGES = 50
METHODS = ("get", "put", "post", "delete", "patch")


def _first_json_object(
    document: dict[str, Any], operation: dict[str, Any]
) -> dict[str, Any] | None:
    """The first 2xx JSON schema of ``operation`` that has properties, as written (a ref
    followed once, to the component)."""
    for status, response in operation.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        while isinstance(schema, dict) and "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = document["components"]["schemas"][name]
        if isinstance(schema, dict) and schema.get("properties"):
            return schema
    return None


def _mutations() -> list[Callable[[dict[str, Any], dict[str, Any]], bool]]:
    def required_parameter(_: dict[str, Any], operation: dict[str, Any]) -> bool:
        operation.setdefault("parameters", []).append(
            {"name": "bench", "in": "query", "required": True, "schema": {"type": "string"}}
        )
        return True

    def deprecated(_: dict[str, Any], operation: dict[str, Any]) -> bool:
        if operation.get("deprecated"):
            return False
        operation["deprecated"] = True
        return True

    def status_added(_: dict[str, Any], operation: dict[str, Any]) -> bool:
        operation["responses"]["418"] = {"description": "a bench's teapot"}
        return True

    def member_added(document: dict[str, Any], operation: dict[str, Any]) -> bool:
        schema = _first_json_object(document, operation)
        if schema is None:
            return False
        schema = copy.deepcopy(schema)
        schema["properties"]["benchMember"] = {"type": "string"}
        for status, response in operation["responses"].items():
            if str(status).startswith("2") and "content" in response:
                response["content"]["application/json"]["schema"] = schema
                return True
        return False

    return [required_parameter, deprecated, status_added, member_added]


def mutated(api: str) -> tuple[dict[str, Any], int]:
    """A copy of ``api``'s spec with `CHANGES` changes, and how many were made."""
    document = copy.deepcopy(read_document(bundled_spec(api)).data)
    mutations = _mutations()
    made = 0
    operations = [
        item[method] for item in document["paths"].values() for method in METHODS if method in item
    ]
    for round_ in range(len(mutations)):
        for index, operation in enumerate(operations):
            if made == CHANGES:
                return document, made
            if mutations[(index + round_) % len(mutations)](document, operation):
                made += 1
    return document, made


def timed(options: DiffOptions, repeat: int) -> tuple[list[float], int]:
    seconds = []
    found = 0
    for _ in range(repeat):
        start = time.perf_counter()
        command(options, io.StringIO())
        seconds.append(time.perf_counter() - start)
        found = len(diff_result(options).changes)
    return seconds, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for api in BUNDLED_APIS:
            spec = bundled_spec(api)
            copy_path = Path(folder) / f"{api}.json"
            data, made = mutated(api)
            copy_path.write_text(json.dumps(data), encoding="utf-8")
            for name, new in (("itself", spec), (f"{made} changes", copy_path)):
                options = DiffOptions(str(spec), str(new), waivers=None)
                seconds, found = timed(options, args.repeat)
                rows.append({
                    "api": api, "against": name, "changes_found": found,
                    "best_s": round(min(seconds), 3),
                    "median_s": round(statistics.median(seconds), 3),
                })  # fmt: skip
                print(
                    f"{api:8} against {name:12} {found:4} changes found"
                    f"  best {min(seconds):.3f} s  median {statistics.median(seconds):.3f} s"
                )
    out = Path("reports") / "bench-diff.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"repeat": args.repeat, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

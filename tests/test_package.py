from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import conformance
from conformance import checks, contract, drafting, lint, reference, suite

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("module", [checks, contract, drafting, lint, reference, suite])
def test_package_public_names_exist_and_are_sorted(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    # ruff's "isort-style" order (RUF022): CONSTANTS, then Classes, then functions.
    kind = {True: 0, False: 1}
    assert names == sorted(names, key=lambda n: (kind[n.isupper()], n[0].islower(), n))
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_package_version_is_the_installed_one() -> None:
    assert conformance.__version__ == version("conformance")


def test_package_lock_pins_every_dependency_inside_its_tested_range() -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]
    pinned = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pinned[name.strip().lower().replace("_", "-")] = rest.split()[0].split(";")[0]
    for requirement in ranges:
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements/lock.txt; run make lock"
        assert requirement.specifier.contains(pinned[name]), (name, pinned[name])

"""The layering of ARCHITECTURE.md, checked on the imports of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import conformance

PACKAGE = Path(conformance.__file__).parent

#: layer -> the layers it may import. Keep in step with ARCHITECTURE.md ("Layers").
ALLOWED = {
    "errors": set(),
    "masking": set(),
    "busy": set(),
    "config": {"errors"},
    "contract": {"errors"},
    "catalogue": {"contract", "errors"},
    "lint": {"catalogue", "contract", "errors"},
    "checks": {"catalogue", "contract", "errors"},
    "reference": {"contract", "errors"},
    "suite": {"catalogue", "contract", "checks", "errors", "masking"},
    "reporting": {"catalogue", "contract", "errors", "masking"},
    "plugin": {"catalogue", "config", "contract", "errors", "masking", "reporting", "suite"},
    "runner": {
        "catalogue",
        "config",
        "contract",
        "errors",
        "masking",
        "reference",
        "reporting",
        "suite",
    },
    "selftest": {
        "busy",
        "catalogue",
        "config",
        "contract",
        "errors",
        "reference",
        "reporting",
        "runner",
    },
    "cli": {
        "busy",
        "catalogue",
        "config",
        "contract",
        "errors",
        "lint",
        "masking",
        "reference",
        "reporting",
        "runner",
        "selftest",
    },
    "__init__": set(),
    "__main__": {"cli"},
}


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "conformance":
                names = [f"conformance.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith("conformance."):
                found.add(name.split(".")[1])
    return found


def test_layering_every_module_has_a_layer() -> None:
    layers = {layer_of(path) for path in PACKAGE.rglob("*.py")}
    assert layers <= set(ALLOWED), "add the new layer to ALLOWED and to ARCHITECTURE.md"


def test_layering_no_module_imports_a_layer_above_it() -> None:
    breaches = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = layer_of(path)
        for imported in imported_layers(path) - {layer, "__version__"}:
            if imported not in ALLOWED[layer]:
                breaches.append(f"{path.relative_to(PACKAGE)} imports conformance.{imported}")
    assert breaches == []


def test_layering_check_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import conformance.cli\nfrom conformance.lint import RULES\n")
    assert imported_layers(sample) == {"cli", "lint"}

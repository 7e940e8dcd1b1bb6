"""The layering of ARCHITECTURE.md, checked on the imports of every module: which layers a layer
may import, that it imports another layer through its public face only, and that the reference
backend's modules import each other in one order."""

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
    "verdict": {"catalogue", "errors", "masking"},
    "reference": {"contract", "errors"},
    "suite": {"catalogue", "config", "contract", "checks", "errors", "masking", "verdict"},
    "reporting": {"catalogue", "contract", "errors", "masking", "verdict"},
    "plugin": {
        "catalogue",
        "config",
        "contract",
        "errors",
        "masking",
        "reporting",
        "suite",
        "verdict",
    },
    "runner": {
        "catalogue",
        "config",
        "contract",
        "errors",
        "masking",
        "reference",
        "reporting",
        "suite",
        "verdict",
    },
    "drafting": {"config", "contract", "errors", "masking"},
    "diffing": {"catalogue", "config", "contract", "errors"},
    "selftest": {
        "busy",
        "catalogue",
        "config",
        "contract",
        "errors",
        "reference",
        "reporting",
        "runner",
        "verdict",
    },
    "cli": {
        "busy",
        "catalogue",
        "config",
        "contract",
        "diffing",
        "drafting",
        "errors",
        "lint",
        "masking",
        "reference",
        "reporting",
        "runner",
        "selftest",
        "verdict",
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


def private_imports(path: Path, layer: str) -> list[tuple[int, str]]:
    """The imports in ``path`` (a module of ``layer``) of another layer's private modules or
    names (a dotted part starting with ``_``), with their lines; imports inside functions count."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [(node.lineno, target) for target in targets if is_private(target, layer)]
    return sorted(found)


def is_private(target: str, layer: str) -> bool:
    """``target`` (a dotted import) is a private module or name of a layer other than ``layer``."""
    parts = target.split(".")
    if parts[0] != "conformance" or len(parts) < 2 or parts[1] == layer:
        return False
    return any(part.startswith("_") and not part.startswith("__") for part in parts[1:])


def public_face(layer: str) -> str:
    return (
        f"conformance/{layer}/__init__.py"
        if (PACKAGE / layer).is_dir()
        else f"conformance/{layer}.py"
    )


def package_imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (``reference``, ``suite``) -> the modules of it that it
    imports, anywhere in it (``from conformance.reference import _gloria`` imports ``_gloria``;
    in ``suite``, ``scenarios._story`` is a module of ``scenarios/``; a package's ``__init__``
    is left out: it imports its modules, which then import it through their siblings)."""
    folder = PACKAGE / package
    modules = {
        ".".join(path.relative_to(folder).with_suffix("").parts): path
        for path in sorted(folder.rglob("*.py"))
        if path.stem != "__init__"
    }
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                stem = name.removeprefix(f"conformance.{package}.")
                if stem != name and stem in modules and stem != module:
                    graph[module].add(stem)
    return graph


def import_circle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of ``graph`` (its modules in import order, the first again at the end), or []."""
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for imported in sorted(graph[module]):
            if circle := walk(imported, [*path, module]):
                return circle
        done.add(module)
        return []

    for module in sorted(graph):
        if circle := walk(module, []):
            return circle
    return []


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


def test_layering_no_module_imports_private_parts_of_another_layer() -> None:
    # a layer's public face is its package's __init__ (or its module): what it exports there is
    # what others may rely on. No exception today; one would be listed here with its reason.
    breaches = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = layer_of(path)
        for line, target in private_imports(path, layer):
            owner = target.split(".")[1]
            breaches.append(
                f"conformance/{path.relative_to(PACKAGE)}:{line} imports {target}, private to"
                f" conformance.{owner}; export it from {public_face(owner)} and import it from"
                " there"
            )
    assert breaches == [], "\n".join(breaches)


def test_layering_reference_modules_import_each_other_in_one_order() -> None:
    # _app -> _auth -> _settings -> _defects -> _app was such a circle, closed by an import
    # inside a function: token lifetimes now belong to _auth, defect names to _defects
    circle = import_circle(package_imports("reference"))
    assert circle == [], "reference/ imports in a circle: " + " -> ".join(circle)


def test_layering_suite_modules_import_each_other_in_one_order() -> None:
    # _engine imported _reach inside run_engine, and _reach imported _engine: the passes of a
    # run (run_engine) now live above both, in _fuzzing
    circle = import_circle(package_imports("suite"))
    assert circle == [], "suite/ imports in a circle: " + " -> ".join(circle)


def test_layering_check_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import conformance.cli\nfrom conformance.lint import RULES\n")
    assert imported_layers(sample) == {"cli", "lint"}


def test_layering_check_sees_private_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from conformance import __version__\n"
        "from conformance.suite import Shard\n"
        "from conformance.runner import _own\n"
        "def f():\n"
        "    from conformance.suite._shard import assign\n"
        "    from conformance.suite import _waivers\n"
        "    import conformance.suite.scenarios._story\n"
    )
    assert private_imports(sample, "runner") == [
        (5, "conformance.suite._shard.assign"),
        (6, "conformance.suite._waivers"),
        (7, "conformance.suite.scenarios._story"),
    ]


def test_layering_circle_check_finds_a_circle() -> None:
    graph = {"_app": {"_auth"}, "_auth": {"_settings"}, "_settings": {"_app"}, "_store": set()}
    assert import_circle(graph) == ["_app", "_auth", "_settings", "_app"]
    assert import_circle({**graph, "_settings": {"_store"}}) == []

"""The package's plan holds: the inference path (mixin/*.py) imports no training, evaluation,
data or command-line code, and each layer imports only those below it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mixin"
LAYERS = ["inference", "data", "evaluation", "training", "cli"]
"""Bottom to top: a module may import its own layer and those below."""


def layer_of(module: str) -> str:
    """``mixin.data.hdf5`` -> "data"; ``mixin.cdae`` (top level) -> "inference"."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in LAYERS:
        return parts[1]
    return "cli" if parts[1:] == ["__main__"] else "inference"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def imported(path: Path) -> set[str]:
    """Every mixin module ``path`` imports, at the top or inside functions."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "mixin"}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.split(".")[0] == "mixin":
                found.add(target)
                found |= {
                    f"{target}.{a.name}"
                    for a in node.names
                    if (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).exists()
                }
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_follow_the_layers(path):
    here = layer_of(module_name(path))
    allowed = LAYERS[: LAYERS.index(here) + 1]
    wrong = sorted(m for m in imported(path) if m != "mixin" and layer_of(m) not in allowed)
    assert not wrong, f"{module_name(path)} ({here}) imports {wrong}"


def test_inference_path_imports_no_training_evaluation_or_cli_code():
    inference = [p for p in MODULES if layer_of(module_name(p)) == "inference"]
    assert {"mixin.separators", "mixin.apply", "mixin.registry", "mixin.backend"} <= {module_name(p) for p in inference}
    for path in inference:
        assert not [m for m in imported(path) if layer_of(m) != "inference"], module_name(path)


def test_the_layout_checker_sees_relative_and_lazy_imports():
    probe = PACKAGE / "cli" / "separate.py"
    assert {"mixin.files", "mixin.plotting", "mixin.cli.common"} <= imported(probe)  # lazy, relative, sibling

"""The dependency rules of DESIGN.md, checked on the source: engine imports nothing from
scenarios/validation/hpc, and only engine/app imports Hydra or OmegaConf."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def engine_files():
    return sorted((ROOT / "engine").rglob("*.py"))


def test_engine_depends_on_nothing_above_it():
    offenders = {str(p.relative_to(ROOT)): imported_modules(p) & {"scenarios", "validation", "hpc"}
                 for p in engine_files()}
    assert not {k: v for k, v in offenders.items() if v}


def test_hydra_lives_only_in_the_application_layer():
    app = ROOT / "engine" / "app"
    offenders = [str(p.relative_to(ROOT)) for p in engine_files()
                 if app not in p.parents and imported_modules(p) & {"hydra", "omegaconf"}]
    assert offenders == []


def test_only_the_backend_module_imports_cupy_or_numba_outside_kernels():
    allowed = {ROOT / "engine" / "backend.py"}
    offenders = [str(p.relative_to(ROOT)) for p in engine_files()
                 if p not in allowed and "kernels" not in p.parts
                 and imported_modules(p) & {"cupy", "cupyx", "numba"}]
    assert offenders == []

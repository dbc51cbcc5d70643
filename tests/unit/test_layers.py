"""The house's floors: data flows one way (sources → topics → stages → sinks → query and
dashboards), and no package imports one above it. Read from the source with `ast`, so an import
inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package → the packages of ours it may import (itself always).
MAY_IMPORT = {
    "core": set(),
    "schemas": {"core"},
    "inference": {"core"},
    "connectors": {"core", "schemas"},
    "query": {"core", "schemas", "connectors"},
    "streams": {"core", "schemas", "connectors", "inference"},
    "api": {"core", "schemas", "connectors", "inference", "query"},
    "dashboards": {"core", "schemas", "connectors", "query"},
    "viewfinder": {"core", "schemas", "connectors", "inference", "query", "streams", "api", "dashboards"},
}


def imported_packages(package: str) -> dict[str, set[str]]:
    """Our top-level packages each module of ``package`` imports."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = (names & set(MAY_IMPORT)) - {package}
    return out


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_package_imports_a_floor_above_it(package):
    upward = {
        module: sorted(names - MAY_IMPORT[package])
        for module, names in imported_packages(package).items()
        if names - MAY_IMPORT[package]
    }
    assert upward == {}, f"{package} may import only {sorted(MAY_IMPORT[package])}"


def test_every_package_of_ours_has_a_floor():
    ours = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert ours == set(MAY_IMPORT)


def test_the_index_service_and_the_dashboard_load_no_scikit_learn_and_no_torch():
    code = (
        "import sys, dashboards.server, viewfinder.embedded.index, viewfinder.cli; "
        "print(sorted(m for m in ('sklearn', 'torch', 'faust.agents') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr

"""pyproject.toml declares every distribution the code imports directly. No network, no install.

The project's own packages are parsed with ``ast`` (imports inside functions and ``try`` blocks
count too), the standard library and the project's own packages are dropped, and every other
top-level module name is mapped to the installed distribution that provides it. A package that
is only present because something else pulls it in (yarl through aiohttp, tokenizers through
transformers) still has to be declared: nothing promises it stays there.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The project's own top-level packages, those that exist (the tree is being restructured).
PROJECT_PACKAGES = ("viewfinder", "streams", "connectors", "api", "schemas", "dashboards", "core", "inference", "query")
# Code that runs from a `.[test]` install: its imports are declared in dependencies or `test`.
DEV_FOLDERS = ("tests", "bench")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared(requirements: list[str]) -> set[str]:
    """Normalised names of PEP 508 requirement strings ("pkg[extra]>=1; marker" -> "pkg")."""
    names = set()
    for line in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        assert match, f"not a requirement: {line!r}"
        names.add(_normalise(match.group(1)))
    return names


def _own_packages() -> list[str]:
    return [name for name in PROJECT_PACKAGES if (ROOT / name / "__init__.py").is_file()]


def _imports(folders: list[str]) -> dict[str, set[str]]:
    """Top-level module name -> files (relative to the root) that import it, absolute imports only."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_bytes(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _third_party(folders: list[str], own: set[str]) -> dict[str, set[str]]:
    return {
        name: files
        for name, files in _imports(folders).items()
        if name not in sys.stdlib_module_names and name not in own
    }


def _undeclared(imported: dict[str, set[str]], declared: set[str]) -> list[str]:
    providers = packages_distributions()
    problems = []
    for module, files in sorted(imported.items()):
        where = ", ".join(sorted(files)[:3]) + (" …" if len(files) > 3 else "")
        dists = {_normalise(dist) for dist in providers.get(module, [])}
        if not dists:
            if _normalise(module) not in declared:  # not installed: the same name declared will do
                problems.append(
                    f"{module} (imported in {where}): no installed distribution "
                    f"provides it; declare the one that does and install it"
                )
        elif not dists & declared:
            problems.append(
                f"{module} (imported in {where}): provided by {', '.join(sorted(dists))}, which is not declared"
            )
    return problems


def test_project_packages_exist():
    assert {"viewfinder", "streams", "connectors"} <= set(_own_packages())


def test_direct_imports_are_declared_dependencies():
    own = _own_packages()
    imported = _third_party(own, set(own))
    assert {"aiohttp", "numpy"} <= set(imported), "the import walk found nothing: is ROOT right?"
    declared = _declared(_pyproject()["project"]["dependencies"])
    problems = _undeclared(imported, declared)
    assert not problems, "add to [project] dependencies in pyproject.toml:\n  " + "\n  ".join(problems)


def test_test_and_bench_imports_are_declared_with_the_test_extra():
    own = set(_own_packages()) | set(DEV_FOLDERS)
    folders = [name for name in DEV_FOLDERS if (ROOT / name).is_dir()]
    imported = _third_party(folders, own)
    assert "pytest" in imported
    project = _pyproject()["project"]
    test_extra = _declared(project["optional-dependencies"]["test"])
    problems = _undeclared(imported, _declared(project["dependencies"]) | test_extra)
    assert not problems, "add to [project.optional-dependencies] test in pyproject.toml:\n  " + "\n  ".join(problems)


def test_every_project_package_is_packaged():
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    missing = [name for name in _own_packages() if not any(fnmatch.fnmatchcase(name, pattern) for pattern in include)]
    assert not missing, f"add to [tool.setuptools.packages.find] include: {missing}"

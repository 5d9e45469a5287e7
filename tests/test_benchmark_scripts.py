"""The benchmark scripts still fit the package: every name they import from
``blobmaster`` exists (they are run by hand, so nothing else would notice a
rename until someone needs the figure)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _blobmaster_imports(script: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from blobmaster... import name`` in ``script``."""
    tree = ast.parse(script.read_text(), filename=str(script))
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("blobmaster")
        for alias in node.names
    ]


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_every_blobmaster_name_a_benchmark_imports_exists(script: Path) -> None:
    for module_name, name in _blobmaster_imports(script):
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            continue
        # ``from blobmaster import model`` names a submodule.
        importlib.import_module(f"{module_name}.{name}")


def test_the_check_sees_a_stale_import(tmp_path: Path) -> None:
    stale = tmp_path / "stale.py"
    stale.write_text("from blobmaster.agents import parse_agent_spec\n")
    ((module_name, name),) = _blobmaster_imports(stale)
    with pytest.raises(ModuleNotFoundError):
        test_every_blobmaster_name_a_benchmark_imports_exists(stale)
    assert (module_name, name) == ("blobmaster.agents", "parse_agent_spec")

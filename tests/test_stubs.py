"""The hand-written stubs (_core.pyi) describe the compiled module exactly:
the same names, and the same parameters in the same order and kinds."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import blobmaster
from blobmaster import _core

STUB = ast.parse((Path(blobmaster.__file__).parent / "_core.pyi").read_text())
# Dunders the runtime always has that the stubs do not need to list.
IMPLICIT = {"__doc__", "__module__", "__init__", "__new__", "__hash__"}


def public(names: object) -> set[str]:
    return {n for n in names if not n.startswith("_")}  # type: ignore[attr-defined]


def stub_names(body: list[ast.stmt]) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
    return out


MODULE = stub_names(STUB.body)
CLASSES = {name: node for name, node in MODULE.items() if isinstance(node, ast.ClassDef)}


def test_module_names_match() -> None:
    assert public(MODULE) == public(dir(_core))
    assert "__version__" in MODULE and isinstance(_core.__version__, str)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_class_members_match(name: str) -> None:
    members = stub_names(CLASSES[name].body)
    cls = getattr(_core, name)
    if issubclass(cls, BaseException):
        return
    assert public(members) == public(vars(cls))
    dunders = {m for m in members if m.startswith("__")} - IMPLICIT
    assert dunders <= set(vars(cls)), dunders - set(vars(cls))


def stub_parameters(fn: ast.FunctionDef) -> list[tuple[str, str]]:
    a = fn.args
    params = [(p.arg, "POSITIONAL_ONLY") for p in a.posonlyargs]
    params += [(p.arg, "POSITIONAL_OR_KEYWORD") for p in a.args]
    params += [(p.arg, "KEYWORD_ONLY") for p in a.kwonlyargs]
    return params


def runtime_parameters(obj: object) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in inspect.signature(obj).parameters.values()]  # type: ignore[arg-type]


def functions() -> list[tuple[str, ast.FunctionDef, object]]:
    out = []
    for name, node in MODULE.items():
        if isinstance(node, ast.FunctionDef):
            out.append((name, node, getattr(_core, name)))
    for cname, cnode in CLASSES.items():
        cls = getattr(_core, cname)
        for name, node in stub_names(cnode.body).items():
            if not isinstance(node, ast.FunctionDef) or name in IMPLICIT or name == "__eq__":
                continue
            if any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                continue
            target = cls if name == "__init__" else getattr(cls, name)
            out.append((f"{cname}.{name}", node, target))
        if "__init__" in stub_names(cnode.body):
            out.append((f"{cname}()", stub_names(cnode.body)["__init__"], cls))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(("name", "node", "obj"), functions(), ids=[f[0] for f in functions()])
def test_signatures_match(name: str, node: ast.FunctionDef, obj: object) -> None:
    stub = stub_parameters(node)
    if stub and stub[0][0] == "self":
        stub[0] = ("self", "POSITIONAL_ONLY")  # native methods take self positionally
    if name.endswith("()"):
        stub = stub[1:]  # the class signature has no self
    assert runtime_parameters(obj) == stub

"""Every public name of kitcore and of every plugin says what it is.

"Public" is what a package exports in ``__all__`` and, for exported classes, their
methods and properties without a leading underscore. Constants are documented by a
string right after their assignment (an attribute docstring), which only the source
keeps, so those are read with ``ast``. Every hook in ``hookspecs.py`` also names each of
its arguments, since a plugin author reads the hook's docstring and nothing else.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kitcore.plugins import hookspecs

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = sorted(
    d.name
    for p in (ROOT / "plugins").glob("kit-*")
    for d in p.glob("kit_*")
    if (d / "__init__.py").exists()
)
PACKAGES = ["kitcore", *PLUGIN_PACKAGES]


def modules(package: str) -> list[ModuleType]:
    """The package and every module under it."""
    top = importlib.import_module(package)
    found = [top]
    for info in pkgutil.walk_packages(top.__path__, f"{package}."):
        if ".scaffold.templates" in info.name or info.name.endswith(".__main__"):
            continue  # templates are rendered, never imported; __main__ runs the CLI
        found.append(importlib.import_module(info.name))
    return found


def documented_constants(module: ModuleType) -> set[str]:
    """Module-level names assigned and followed at once by a string literal."""
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node, after in zip(tree.body, tree.body[1:], strict=False):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        is_doc = (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        )
        if is_doc:
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def has_own_doc(obj: Any) -> bool:
    return bool((inspect.getdoc(obj) or "").strip())


def undocumented(package: str) -> list[str]:
    missing = []
    all_modules = modules(package)
    constants: set[str] = set()
    for module in all_modules:
        constants |= documented_constants(module)
    for module in all_modules:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            where = f"{module.__name__}.{name}"
            if inspect.isclass(obj):
                if not has_own_doc(obj):
                    missing.append(where)
                missing += undocumented_members(obj, where)
            elif inspect.isroutine(obj) or inspect.ismodule(obj):
                if not has_own_doc(obj):
                    missing.append(where)
            elif name not in constants and not _typing_alias_with_doc(obj):
                missing.append(where)
    return sorted(set(missing))


def _typing_alias_with_doc(obj: Any) -> bool:
    # A NewType or TypeVar carries its own __doc__ only when one was given to it.
    return type(obj).__module__ == "typing" and bool(getattr(obj, "__doc__", None))


def undocumented_members(cls: type, where: str) -> list[str]:
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        public = isinstance(member, property) or inspect.isfunction(member)
        if public and not has_own_doc(member) and not inherited_doc(cls, name):
            missing.append(f"{where}.{name}")
    return missing


def inherited_doc(cls: type, name: str) -> bool:
    """An override documented where it is declared (a Protocol, a base class)."""
    return any(name in vars(base) and has_own_doc(vars(base)[name]) for base in cls.__mro__[1:])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_has_a_docstring(package: str) -> None:
    assert undocumented(package) == []


HOOKS = [
    (name, fn)
    for name, fn in vars(hookspecs).items()
    if name.startswith("kit_") and inspect.isfunction(fn)
]


@pytest.mark.parametrize("name, hook", HOOKS, ids=[n for n, _ in HOOKS])
def test_every_hook_names_each_argument(name: str, hook: Any) -> None:
    doc = inspect.getdoc(hook) or ""
    assert doc, name
    for argument in inspect.signature(hook).parameters:
        assert f"``{argument}" in doc or f"`{argument}" in doc, (name, argument)


def test_the_checks_see_a_missing_docstring() -> None:
    module = ModuleType("probe")
    source = "class Seen:\n    '''Doc.'''\n    def bare(self): pass\n"
    exec(compile(source, "probe", "exec"), module.__dict__)
    assert undocumented_members(module.Seen, "probe.Seen") == ["probe.Seen.bare"]

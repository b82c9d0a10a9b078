"""Size limits from issue #13 ("a house a newcomer can live in"), checked on the source: a
function a reader must scroll through, or a service class that does too many things, fails
the suite.

- No function or method under ``syndication/`` or ``workers/`` longer than
  ``MAX_FUNCTION_LINES`` (from its ``def`` line to its last line, docstring included).
- No class under ``syndication/services/`` longer than ``MAX_CLASS_LINES`` or with more than
  ``MAX_PUBLIC_METHODS`` public methods (methods and properties not starting with ``_``).

Every module is parsed with ``ast`` (nothing is imported). A known offender is listed below
with its size when it was listed and the reason; the lists may only shrink: an entry fails
the test when its offender grows past the size recorded, and when it no longer exceeds the
limit (remove the entry with the fix).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("syndication", "workers")
SERVICES = Path("syndication/services")

MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 300
MAX_PUBLIC_METHODS = 15

# "path::Qualified.name" → (lines when listed, reason). May only shrink.
KNOWN_LONG_FUNCTIONS: dict[str, tuple[int, str]] = {}

# "path::ClassName" → (lines, public methods when listed, reason). May only shrink.
KNOWN_LARGE_CLASSES: dict[str, tuple[int, int, str]] = {}


@dataclass(frozen=True)
class Definition:
    where: str  # "path::Qualified.name"
    lines: int
    public_methods: int  # classes only


def _lines(node: ast.AST) -> int:
    assert isinstance(node, ast.stmt) and node.end_lineno is not None
    return node.end_lineno - node.lineno + 1


def _walk(body: list[ast.stmt], path: str, prefix: str) -> Iterator[tuple[ast.stmt, str]]:
    """Every function and class with its qualified name, nested ones included."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            yield node, f"{path}::{name}"
            yield from _walk(node.body, path, f"{name}.")
        else:
            for child in ast.iter_child_nodes(node):  # defs inside if/try/with blocks
                if isinstance(child, ast.stmt):
                    yield from _walk([child], path, prefix)
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    yield from _walk(child.body, path, prefix)


def _definitions() -> tuple[list[Definition], list[Definition]]:
    functions: list[Definition] = []
    classes: list[Definition] = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            path = file.relative_to(ROOT)
            tree = ast.parse(file.read_text(encoding="utf-8"), str(path))
            for node, where in _walk(tree.body, path.as_posix(), ""):
                if isinstance(node, ast.ClassDef):
                    if path.is_relative_to(SERVICES):
                        public = [
                            m
                            for m in node.body
                            if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
                            and not m.name.startswith("_")
                        ]
                        classes.append(Definition(where, _lines(node), len(public)))
                else:
                    functions.append(Definition(where, _lines(node), 0))
    return functions, classes


FUNCTIONS, CLASSES = _definitions()


def test_the_check_sees_the_code() -> None:
    names = {d.where for d in FUNCTIONS}
    assert "syndication/config.py::load_settings" in names
    assert "syndication/store/articles.py::ArticleStore._put" in names
    assert any(d.where.startswith("workers/") for d in FUNCTIONS)
    assert any(d.where.startswith("syndication/services/") for d in CLASSES)


def test_no_long_functions() -> None:
    too_long = [
        f"{d.where}: {d.lines} lines"
        for d in FUNCTIONS
        if d.lines > MAX_FUNCTION_LINES and d.lines > KNOWN_LONG_FUNCTIONS.get(d.where, (0,))[0]
    ]
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them into well-named parts; a "
        f"listed one may not grow): {too_long}"
    )


def test_no_large_service_classes() -> None:
    too_large = []
    for d in CLASSES:
        lines, methods, _ = KNOWN_LARGE_CLASSES.get(d.where, (0, 0, ""))
        if d.lines > max(MAX_CLASS_LINES, lines):
            too_large.append(f"{d.where}: {d.lines} lines")
        if d.public_methods > max(MAX_PUBLIC_METHODS, methods):
            too_large.append(f"{d.where}: {d.public_methods} public methods")
    assert not too_large, (
        f"service classes over {MAX_CLASS_LINES} lines or {MAX_PUBLIC_METHODS} public "
        f"methods (split the use cases; a listed one may not grow): {too_large}"
    )


def test_allow_lists_only_shrink() -> None:
    """An entry whose offender is gone or within the limits is removed with the fix."""
    functions = {d.where: d for d in FUNCTIONS}
    classes = {d.where: d for d in CLASSES}
    stale = [
        where
        for where in KNOWN_LONG_FUNCTIONS
        if where not in functions or functions[where].lines <= MAX_FUNCTION_LINES
    ]
    stale += [
        where
        for where in KNOWN_LARGE_CLASSES
        if where not in classes
        or (
            classes[where].lines <= MAX_CLASS_LINES
            and classes[where].public_methods <= MAX_PUBLIC_METHODS
        )
    ]
    assert not stale, f"within the limits now, remove from the allow-lists: {stale}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    pass\n", {"m.py::f": 2}),
        (
            "class C:\n    def g(self):\n        def h():\n            pass\n",
            {"m.py::C": 4, "m.py::C.g": 3, "m.py::C.g.h": 2},
        ),
        ("if True:\n    def f():\n        pass\n", {"m.py::f": 2}),
        ("try:\n    async def f():\n        pass\nexcept ImportError:\n    pass\n", {"m.py::f": 2}),
        ("try:\n    pass\nexcept ImportError:\n    def f():\n        pass\n", {"m.py::f": 2}),
    ],
)
def test_definitions_are_found(source: str, expected: dict[str, int]) -> None:
    tree = ast.parse(source)
    assert {where: _lines(node) for node, where in _walk(tree.body, "m.py", "")} == expected

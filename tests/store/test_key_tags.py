"""Every Redis key the store names carries a Cluster hash tag (issue #14).

Read from the source with ``ast``: each f-string that starts with the key prefix
(``{prefix}…``, ``{self.prefix}…``, ``{self.keys.prefix}…``) must go on with a ``{tag}``, so
that keys of one domain share a slot and no new key slips in without one. The running
check, on a real Cluster, is tests/store/test_cluster.py.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from syndication.store.key_migration import RULES
from syndication.store.keys import Keys

STORE = Path(__file__).resolve().parents[2] / "syndication" / "store"
TAG = re.compile(r"\{[^{}]+\}")

# f-strings that start with the prefix but are no key of ours, each with its reason.
NOT_KEYS: dict[str, str] = {
    "keys.py::feeds:changed": "a pub/sub channel: PUBLISH reaches every Cluster node",
}
# Modules that name the keys from before hash tags on purpose.
OLD_NAMES = {"key_migration.py"}


def _is_prefix(node: ast.expr) -> bool:
    name = ast.unparse(node)
    return name == "prefix" or name.endswith(".prefix")


def _template(node: ast.JoinedStr) -> str:
    """The f-string after its prefix, formatted values as ``X``: ``{partners}:partner:X``."""
    return "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values[1:])


def _prefixed_names() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(STORE.glob("*.py")):
        if path.name in OLD_NAMES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.JoinedStr) or not node.values:
                continue
            first = node.values[0]
            if isinstance(first, ast.FormattedValue) and _is_prefix(first.value):
                found.append((path.name, node.lineno, _template(node)))
    return found


def test_every_prefixed_name_in_store_has_a_hash_tag() -> None:
    names = _prefixed_names()
    assert len(names) > 20  # the walk sees the store's key names
    untagged = [
        f"{module}:{line}: {{prefix}}{rest}"
        for module, line, rest in names
        if not TAG.search(rest) and f"{module}::{rest}" not in NOT_KEYS
    ]
    assert not untagged, f"key names without a hash tag: {untagged}"


def test_every_name_keys_py_makes_has_a_hash_tag() -> None:
    keys = Keys("p:")
    made = []
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_") or name == "feed_changes":
            continue
        if isinstance(member, property):
            made.append(getattr(keys, name))
        elif inspect.isfunction(member):
            args = ["x"] * (len(inspect.signature(member).parameters) - 1)
            made.append(member(keys, *args))
    made.append(keys.feed_index("topic/coca"))
    assert made and all(TAG.search(name.removeprefix("p:")) for name in made), made


def test_the_migration_renames_every_old_name_to_a_tagged_one() -> None:
    for old, new in RULES:
        assert not TAG.search(old.replace("{identity}", "")), old
        assert TAG.search(new) or new.endswith("{"), new  # "…{" + "<id>}" for copies

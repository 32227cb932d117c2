"""The package's public surface: what the demo may use, and nothing of the demo inside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import reflex_logto

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "reflex_logto"
DEMO = ROOT / "app"


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_public_name_is_exported_and_documented():
    assert sorted(reflex_logto.__all__) == reflex_logto.__all__
    for name in reflex_logto.__all__:
        value = getattr(reflex_logto, name)
        assert (getattr(value, "__doc__", None) or "").strip(), f"{name} has no docstring"


def test_the_demo_imports_only_the_packages_top_level_names():
    offences = []
    for path in python_files(DEMO):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reflex_logto"):
                if node.module != "reflex_logto":
                    offences.append(f"{path.name}: from {node.module} import ...")
                offences += [f"{path.name}: {a.name}" for a in node.names if a.name not in reflex_logto.__all__]
            elif isinstance(node, ast.Import):
                offences += [f"{path.name}: import {a.name}" for a in node.names if a.name.startswith("reflex_logto.")]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "reflex_logto":
                if node.attr not in reflex_logto.__all__:
                    offences.append(f"{path.name}:{node.lineno}: reflex_logto.{node.attr}")
    assert offences == []


def test_the_demo_uses_no_private_member_of_the_package():
    # The demo's own `self._db` is its business; a private member the package's states
    # (which the demo's states extend), its values or its module carry is not.
    inherited = {n for n in dir(reflex_logto.AccountState) if n.startswith("_") and not n.startswith("__")}
    reached = re.compile(r"\b(self|session|user|reflex_logto(?:\.\w+)*)\.(_\w+)")
    offences = [
        f"{path.name}:{number}: {match.group(0)}"
        for path in python_files(DEMO)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in reached.finditer(line)
        if match.group(1) != "self" or match.group(2) in inherited
    ]
    assert offences == []


# What only the demo knows: its states, scopes, API, routes and files.
DEMO_NAMES = (
    "AdminState", "ProfileState", "ApiDemoState", "OrganizationState", "read:demo", "invite:member",
    "read:members", "/api/demo", "/admin", "/profile", "dev_users.json", "UserDirectory", "record_sign_in", "Hello Logto",
)


def test_no_module_of_the_package_knows_the_demo():
    offences = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file() and path.suffix in (".py", ".mjs", ".json") and path.name != "package-lock.json"
        for name in DEMO_NAMES
        if name in path.read_text()
    ]
    assert offences == []
